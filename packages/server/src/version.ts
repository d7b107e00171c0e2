// Kept in step with package.json by hand; reading package.json would be I/O at import.
export const WARREN_VERSION = "0.1.0";
