// The warm pool end to end on one real daemon: a pool of min 1 fills with a running environment
// nobody sees; `warren up` of that image and class takes it over (the same environment id, so
// the same disk, network and cgroups), and the first exec in it already sees the new name as
// its hostname and workspace and the organisation's secret. The pool then refills.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type Harness, makeHarness } from "@warren/testing/e2e-harness";

const SECRET = `pool-secret-${randomBytes(6).toString("hex")}`;
const IMAGE = "warren/debian:bookworm";

/** Unclaimed members, read from the daemon's own store (no API shows them, by design). */
function members(h: Harness): { id: string; name: string; state: string }[] {
  const db = new DatabaseSync(path.join(h.root, "db", "warren.db"), { readOnly: true });
  try {
    return db
      .prepare(
        "select id, name, state from environments where owner_id = 'warren-pool' and desired = 'running'",
      )
      .all() as { id: string; name: string; state: string }[];
  } finally {
    db.close();
  }
}

async function until<T>(what: string, f: () => T | undefined, ms = 90_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

describe("warm pool (e2e)", { timeout: 300_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await makeHarness("pool");
    await h.startDaemon({ WARREN_POOL_RESYNC_MS: "500" });
  });
  after(async () => {
    await h?.teardown();
  });

  it("a create of the pooled image and class takes over a ready environment, secrets and name included", async () => {
    // The pool makes members of an image the runner has: the base image, built once per machine.
    await h.client.ensureBaseImage(undefined, () => {});
    const cls = h.cli(["class", "create", "small", "--cpus", "0.5", "--memory", "256m", "--disk", "1g"]);
    assert.equal(cls.status, 0, cls.stderr);
    const sec = h.cli(["secret", "set", "POOL_S", "--env", "--scope", "org", "--value-stdin"], {
      input: SECRET,
    });
    assert.equal(sec.status, 0, sec.stderr);
    const set = h.cli(["pool", "set", IMAGE, "--class", "small", "--min", "1", "--max", "1", "--json"]);
    assert.equal(set.status, 0, set.stderr);

    const member = await until("a ready pool member", () => members(h).find((m) => m.state === "running"));
    const ls = JSON.parse(h.cli(["ls", "--json"]).stdout) as unknown[];
    assert.deepEqual(ls, [], "the member is nobody's: `ls` does not show it");
    const pools = JSON.parse(h.cli(["pool", "ls", "--json"]).stdout) as { ready: number }[];
    assert.equal(pools[0]?.ready, 1);

    const t0 = performance.now();
    const up = h.cli(["up", "--name", "dev", "--class", "small", "--detach", "--json"]);
    assert.equal(up.status, 0, up.stderr);
    const exec = h.cli([
      "exec",
      "dev",
      "--",
      "sh",
      "-c",
      "hostname; cat /etc/hostname; pwd; printenv POOL_S",
    ]);
    const ms = Math.round(performance.now() - t0);
    assert.equal(exec.status, 0, exec.stderr);
    assert.equal(JSON.parse(up.stdout).id, member.id, "the pool member itself became `dev`");
    assert.equal(
      exec.stdout,
      `dev\ndev\n/workspaces/dev\n${SECRET}\n`,
      "new name, workspace and secret at the first exec",
    );
    console.log(`up + first exec from the pool through the CLI: ${ms} ms`);
    const hostnameLeak = h.cli(["exec", "dev", "--", "ls", "/workspaces"]);
    assert.equal(hostnameLeak.stdout, "dev\n", "the member's own name is gone from the workspace");

    const next = await until("the pool to refill", () => members(h).find((m) => m.state === "running"));
    assert.notEqual(next.id, member.id);
  });
});
