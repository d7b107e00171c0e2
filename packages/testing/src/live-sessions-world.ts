// A control plane in server mode (in-process or `warren server` processes) with a fake runner
// dialled in over TLS and one running environment, for the revocation tests and bench/revocation.
// The runner's log follow keeps writing, so a session that was not ended would keep receiving.
import {
  type CreatedToken,
  connectRunner,
  type LogStream,
  type RunnerConnection,
  type Transport,
} from "@warren/protocol";
import { FakeRunner } from "./fake-runner.ts";
import { callJson } from "./server-process.ts";

/** A fake runner whose log follows write a line every few ms until closed. */
export class TickingRunner extends FakeRunner {
  override logs(
    id: string,
    opts: { follow: boolean; tail?: number },
    onData: (chunk: string) => void,
  ): LogStream {
    const inner = super.logs(id, opts, onData);
    if (!opts.follow) return inner;
    let n = 0;
    const tick = setInterval(() => onData(`tick ${n++}\n`), 5);
    return {
      done: inner.done.finally(() => clearInterval(tick)),
      close: () => {
        clearInterval(tick);
        inner.close();
      },
    };
  }
}

export interface Endpoint {
  /** Root on the local socket. */
  local: Transport;
  url: string;
  fingerprint: string;
  tls(token: string): Transport;
}

async function ok<T>(t: Transport, method: string, path: string, body?: unknown): Promise<T> {
  const r = await callJson(t, method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as T;
}

export const createToken = (local: Transport, name: string) =>
  ok<CreatedToken>(local, "POST", "/api/v1/tokens", { name });
export const createRunnerToken = (local: Transport, name: string) =>
  ok<CreatedToken>(local, "POST", "/api/v1/admin/runner-tokens", { name });

/** Revokes as root on the local socket; resolves when the call returns (performance.now()). */
export async function revoke(local: Transport, tokenId: string): Promise<number> {
  const r = await callJson(local, "DELETE", `/api/v1/tokens/${tokenId}`);
  if (r.status >= 300) throw new Error(`revoke ${tokenId}: ${r.status} ${JSON.stringify(r.body)}`);
  return performance.now();
}

/** Connects a ticking runner to `e` and creates a running environment `name` through `e`. */
export async function runnerWithEnv(
  e: Endpoint,
  name: string,
): Promise<{ runner: TickingRunner; conn: RunnerConnection; runnerToken: CreatedToken }> {
  const runner = new TickingRunner();
  // Runners of one organisation need names of their own (a live name is refused).
  runner.name = `runner-${name}`;
  const runnerToken = await createRunnerToken(e.local, `runner-${name}`);
  const conn = await connectRunner(
    { url: e.url, fingerprint: e.fingerprint, token: runnerToken.token },
    runner,
  );
  await conn.ready;
  await ok(e.local, "POST", "/api/v1/environments?wait=1", { name });
  return { runner, conn, runnerToken };
}
