// warren port open ENV PORT [--print]: a one-time sign-in link for a port's URL (the control plane
// makes it: a single-use code bound to that port's host, valid briefly), opened in the browser
// where there is one (xdg-open), printed otherwise or with --print. The link carries a code, never
// a token, and the proxy turns it into a session cookie for that one port URL.
import { spawn, spawnSync } from "node:child_process";
import { connect } from "../connect.ts";
import { parsePortArg } from "./port-set.ts";

/** A desktop session with xdg-open on the PATH. */
export function hasBrowser(env: NodeJS.ProcessEnv = process.env): boolean {
  if (!env["DISPLAY"] && !env["WAYLAND_DISPLAY"]) return false;
  return spawnSync("sh", ["-c", "command -v xdg-open"], { stdio: "ignore" }).status === 0;
}

export async function portOpenCommand(env: string, port: string, opts: { print?: boolean }) {
  const n = parsePortArg(port);
  const client = await connect();
  const { url } = await client.portSigninLink(env, n);
  if (opts.print || !hasBrowser()) {
    process.stdout.write(`${url}\n`);
    if (!opts.print) process.stderr.write("warren: open this link within a minute; it works once\n");
    return 0;
  }
  spawn("xdg-open", [url], { stdio: "ignore", detached: true }).unref();
  process.stderr.write(`warren: opened ${env}:${n} in your browser; if it did not open, run with --print\n`);
  return 0;
}
