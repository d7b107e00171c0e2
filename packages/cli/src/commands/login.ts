// warren login URL --fingerprint F [--token T | --token-stdin] [--name N]: checks that the server
// presents the pinned certificate (and accepts the token), then saves it as a context and makes
// it current. Nothing is saved when the check fails, so a typo never becomes the default.
import {
  createClient,
  normalizeFingerprint,
  parseServerUrl,
  tlsTransport,
  WarrenError,
} from "@warren/protocol";
import { contextsPath, saveContext } from "../contexts.ts";
import { readStdin } from "../secret-input.ts";

export interface LoginOptions {
  fingerprint: string;
  token?: string;
  tokenStdin?: boolean;
  name?: string;
}

export async function loginCommand(url: string, opts: LoginOptions) {
  if (opts.token !== undefined && opts.tokenStdin) {
    throw new WarrenError("INVALID_ARGUMENT", "give the token with --token or --token-stdin, not both");
  }
  let fingerprint: string;
  try {
    fingerprint = normalizeFingerprint(opts.fingerprint);
  } catch (err) {
    throw new WarrenError("INVALID_ARGUMENT", (err as Error).message);
  }
  const { host, port } = parseServerUrl(url);
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const serverUrl = `https://${hostPart}:${port}`;
  const token = opts.tokenStdin ? (await readStdin()).trim() : opts.token;
  if (opts.tokenStdin && !token) throw new WarrenError("INVALID_ARGUMENT", "no token on stdin");
  const client = createClient({ transport: tlsTransport({ url: serverUrl, fingerprint, token }) });
  await client.health(); // public: proves the pin before the token is judged
  if (token) await client.whoami();
  const name = opts.name ?? `${hostPart}:${port}`;
  saveContext(name, { url: serverUrl, fingerprint, ...(token ? { token } : {}) }, { use: true });
  process.stderr.write(
    `warren: logged in to ${serverUrl} as context "${name}" (saved in ${contextsPath()})\n`,
  );
  return 0;
}
