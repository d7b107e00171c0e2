// "Behind the wire": a runner (the fake or the real Engine) dials an in-process `warren server`
// over the real /api/runner/v1/connect transport, and the suites call the control plane's end of
// that link (the RemoteRunner the hub attached), so every call crosses TLS, the WebSocket and the
// runner protocol both ways.
import type { RunnerApi } from "@warren/protocol";
import { connectRunner } from "@warren/protocol";
import { mintRunnerToken, startTlsServer } from "../tls-server.ts";
import { withTimeout } from "./subject.ts";

export interface WireLink {
  /** The control plane's end of the link. */
  remote: RunnerApi;
  /** Ends the runner's connection and stops the server. */
  close(): Promise<void>;
}

/**
 * Connects `runner` to a fresh in-process server. The hub sweeps a runner when it attaches (its
 * organisation has no environments here), so connect before making any environment.
 */
export async function overTheWire(runner: RunnerApi): Promise<WireLink> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const close = async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };
  try {
    const d = await startTlsServer(cleanups, {}, "warren-conformance-");
    // The hub hands the RemoteRunner it made to nobody outside; catch it on its way out of attach.
    const hub = d.hub;
    const attach = hub.attach.bind(hub);
    let attached!: (r: RunnerApi) => void;
    const remote = new Promise<RunnerApi>((resolve) => {
      attached = resolve;
    });
    hub.attach = async (...args: Parameters<typeof attach>) => {
      const r = await attach(...args);
      attached(r);
      return r;
    };
    const { token } = await mintRunnerToken(d);
    const conn = await connectRunner({ url: d.url, fingerprint: d.fingerprint, token }, runner);
    cleanups.push(async () => {
      conn.close();
      await conn.closed.catch(() => undefined);
    });
    await withTimeout(conn.ready, 10_000, "the runner's link to the in-process server");
    return { remote: await withTimeout(remote, 10_000, "the hub attaching the runner"), close };
  } catch (err) {
    await close();
    throw err;
  }
}
