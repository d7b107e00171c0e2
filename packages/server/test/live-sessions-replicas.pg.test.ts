// Revocation on replica A ends the live sessions replica B holds: two `warren server` processes on
// one PostgreSQL database; the runner, the environment and every session live on B, every
// revocation is made on A and reaches B over the change bus (LISTEN/NOTIFY).
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, test } from "node:test";
import {
  dataAfterEnd,
  execProbe,
  logsProbe,
  type Probe,
  watchProbe,
} from "@warren/testing/live-session-probes";
import { createToken, type Endpoint, revoke, runnerWithEnv } from "@warren/testing/live-sessions-world";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import { tempDir } from "@warren/testing/server-harness";
import { type ServerProcess, startServerProcess } from "@warren/testing/server-process";

let cluster: PgCluster | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
let a: ServerProcess;
let b: ServerProcess;
before(async () => {
  cluster = await startPgCluster();
  const db = cluster.url(await cluster.createDatabase({ migrated: false }));
  const start = async () => {
    const tmp = tempDir("warren-revoke-replica-");
    cleanups.push(tmp.cleanup);
    const s = await startServerProcess({ db, root: path.join(tmp.dir) });
    cleanups.push(() => s.stop());
    return s;
  };
  a = await start(); // migrates first; B starts on a migrated database
  b = await start();
});
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await cluster?.stop();
});

const endpoint = (s: ServerProcess): Endpoint => ({
  local: s.local,
  url: s.url,
  fingerprint: s.fingerprint,
  tls: s.tls,
});

async function endsWithin1s(p: Probe, returned: number, reason: RegExp): Promise<void> {
  const end = await Promise.race([
    p.ended,
    new Promise<never>((_, rej) =>
      setTimeout(() => rej(new Error("not ended within 1 s of the revocation")), 1000),
    ),
  ]);
  assert.ok(end.at - returned < 1000);
  assert.match(end.reason, reason);
  assert.deepEqual(dataAfterEnd(p), [], "no data after the end");
}

test("a revocation on replica A ends the runner link, exec, log follow and watch held on B", async () => {
  const onB = endpoint(b);
  const { conn, runnerToken } = await runnerWithEnv(onB, "dev");
  cleanups.push(() => conn.close());

  const tokens = await Promise.all(["watch", "logs", "exec"].map((n) => createToken(a.local, n)));
  const [tw, tl, tx] = tokens as [(typeof tokens)[0], (typeof tokens)[0], (typeof tokens)[0]];
  const watch = watchProbe(b.tls(tw.token));
  const logs = logsProbe(b.tls(tl.token), "dev");
  const exec = execProbe(b.tls(tx.token), "dev");
  try {
    await Promise.race([
      Promise.all([watch.open, logs.open, exec.open]),
      new Promise<never>((_, rej) =>
        setTimeout(() => rej(new Error("sessions did not start within 5 s")), 5000),
      ),
    ]);
    await endsWithin1s(watch, await revoke(a.local, tw.id), /UNAUTHENTICATED.*was revoked/);
    await endsWithin1s(logs, await revoke(a.local, tl.id), /log stream closed: token .* was revoked/);
    await endsWithin1s(exec, await revoke(a.local, tx.id), /was revoked/);
    assert.equal((await exec.ended).closeCode, 4401);

    const returned = await revoke(a.local, runnerToken.id);
    const reason = await Promise.race([
      conn.closed,
      new Promise<never>((_, rej) =>
        setTimeout(() => rej(new Error("runner still connected after 1 s")), 1000),
      ),
    ]);
    assert.ok(performance.now() - returned < 1000);
    assert.match(reason, /^4401 token .* was revoked/);
  } finally {
    for (const p of [watch, logs, exec]) p.close();
  }
});
