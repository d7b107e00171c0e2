// A `warren server` in process: the control plane with a TLS listener and a runner hub but no
// runner of its own, so test runners dial in with a runner token as a remote host's would.
import assert from "node:assert/strict";
import path from "node:path";
import { type Daemon, type DaemonOptions, runDaemon } from "@warren/server";
import { tempDir } from "./server-harness.ts";

export type TlsServer = Daemon & {
  tls: NonNullable<Daemon["tls"]>;
  hub: NonNullable<Daemon["hub"]>;
  url: string;
  fingerprint: string;
  dir: string;
};

/** Starts one; `cleanups` gets its close and its directory's removal, in that order when reversed. */
export async function startTlsServer(
  cleanups: (() => Promise<void> | void)[],
  overrides: Partial<DaemonOptions> = {},
  prefix?: string,
): Promise<TlsServer> {
  const tmp = tempDir(prefix);
  cleanups.push(tmp.cleanup);
  const d = await runDaemon({
    socketPath: path.join(tmp.dir, "run", "warren.sock"),
    root: tmp.dir,
    defaultRuntime: "runc",
    resyncMs: 60_000,
    logger: false,
    handleSignals: false,
    settleTimeoutMs: 5000,
    backoff: { baseMs: 20, maxMs: 200 },
    listen: "127.0.0.1:0",
    ...overrides,
  });
  cleanups.push(() => d.close());
  const { tls, hub } = d;
  assert.ok(tls && hub, "server mode listens on TLS and has a runner hub");
  return Object.assign(d, {
    tls,
    hub,
    url: `https://127.0.0.1:${tls.port}`,
    fingerprint: tls.fingerprint,
    dir: tmp.dir,
  });
}

/** A runner token minted as the local root (the bootstrap owner). */
export async function mintRunnerToken(
  d: Daemon,
  name = `r${Math.random()}`,
): Promise<{ id: string; token: string }> {
  const r = await d.app.inject({ method: "POST", url: "/api/v1/admin/runner-tokens", payload: { name } });
  assert.equal(r.statusCode, 201, r.body);
  return r.json();
}
