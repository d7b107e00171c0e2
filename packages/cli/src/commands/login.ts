// warren login URL --fingerprint F [--token T | --token-stdin] [--name N]: checks that the server
// presents the pinned certificate (and accepts the token), then saves it as a context and makes
// it current. Nothing is saved when the check fails, so a typo never becomes the default.

import { spawn, spawnSync } from "node:child_process";
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
  else {
    await deviceLogin(serverUrl, fingerprint, opts);
    return 0;
  }
  const name = opts.name ?? `${hostPart}:${port}`;
  saveContext(name, { url: serverUrl, fingerprint, ...(token ? { token } : {}) }, { use: true });
  process.stderr.write(
    `warren: logged in to ${serverUrl} as context "${name}" (saved in ${contextsPath()})\n`,
  );
  return 0;
}

/**
 * Without --token: Warren's device-code sign-in. On a terminal with a browser (xdg-open) the
 * browser opens at the verification page with the code filled in; headless, the URL and code are
 * printed to open anywhere. Either way the CLI polls until the sign-in completes.
 */
async function deviceLogin(serverUrl: string, fingerprint: string, opts: LoginOptions) {
  const client = createClient({ transport: tlsTransport({ url: serverUrl, fingerprint }) });
  if (!client.deviceCode || !client.deviceToken)
    throw new WarrenError("INVALID_ARGUMENT", "this client cannot sign in");
  const dc = await client.deviceCode();
  const browser =
    process.stdout.isTTY === true &&
    (process.env["DISPLAY"] || process.env["WAYLAND_DISPLAY"]) !== undefined &&
    spawnSync("sh", ["-c", "command -v xdg-open"], { stdio: "ignore" }).status === 0;
  if (browser) {
    spawn("xdg-open", [dc.verification_uri_complete], { stdio: "ignore", detached: true }).unref();
    process.stderr.write(
      `warren: opened your browser to sign in (code ${dc.user_code}); if it did not open, visit\n  ${dc.verification_uri_complete}\n`,
    );
  } else {
    process.stderr.write(
      `warren: to sign in, open\n  ${dc.verification_uri}\nand enter the code ${dc.user_code}\n`,
    );
  }
  let interval = dc.interval;
  const deadline = Date.now() + dc.expires_in * 1000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, interval * 1000));
    const r = await client.deviceToken(dc.device_code);
    if (r.status === "complete") {
      const authed = createClient({
        transport: tlsTransport({ url: serverUrl, fingerprint, token: r.token }),
      });
      const who = await authed.whoami();
      const name = opts.name ?? new URL(serverUrl).host;
      saveContext(name, { url: serverUrl, fingerprint, token: r.token }, { use: true });
      process.stderr.write(
        `warren: signed in to ${serverUrl} as ${who.user.name} (${who.role} in ${who.org.name}); context "${name}" (saved in ${contextsPath()})\n`,
      );
      return;
    }
    interval = r.interval;
  }
  throw new WarrenError(
    "UNAUTHENTICATED",
    "the sign-in code expired before the sign-in finished; run `warren login` again",
  );
}
