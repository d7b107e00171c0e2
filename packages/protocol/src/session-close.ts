// WebSocket close codes for a live session whose credential stopped being valid (4000-4999 are
// the application's). The control plane ends runner links, exec/shell sessions and watches with
// them when a token is revoked or expires or a member is removed; clients read them to say why
// and what to do instead of reconnecting blindly.
export const SESSION_CLOSE = {
  /** The token was revoked or expired (the HTTP 401 of a live session). */
  unauthenticated: 4401,
  /** The user is no longer a member of the organisation (the HTTP 403 of a live session). */
  forbidden: 4403,
} as const;

export type SessionCloseCode = (typeof SESSION_CLOSE)[keyof typeof SESSION_CLOSE];
