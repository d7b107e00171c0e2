// warren-supervise is bound into environments beside warren-init: read-only, no setuid, no
// devices, at the path the control plane execs.
import assert from "node:assert/strict";
import { it } from "node:test";
import { SUPERVISE_PATH } from "@warren/protocol";
import { buildSpec } from "../src/spec/build.ts";
import { defaultEnvSpecOptions, SUPERVISE_PATH_IN_CONTAINER } from "../src/spec/defaults.ts";

const input = {
  rootfs: "/r",
  hostname: "h",
  idMap: { hostStart: 3_000_065_536, size: 65536 },
  cgroupsPath: "/w/w-x",
  initBinary: "/opt/warren/warren-init",
  hostHardLimits: { RLIMIT_NOFILE: 20000, RLIMIT_NPROC: 96365 },
};

it("binds warren-supervise read-only at the path the control plane uses", () => {
  assert.equal(SUPERVISE_PATH_IN_CONTAINER, SUPERVISE_PATH);
  const spec = buildSpec(
    ...defaultEnvSpecOptions({ ...input, superviseBinary: "/opt/warren/warren-supervise" }),
  );
  const m = spec.mounts?.filter((x) => x.destination === SUPERVISE_PATH) ?? [];
  assert.equal(m.length, 1);
  assert.equal(m[0]?.source, "/opt/warren/warren-supervise");
  for (const o of ["ro", "nosuid", "nodev"])
    assert.ok(m[0]?.options?.includes(o), `${o} in ${m[0]?.options}`);
  const none = buildSpec(...defaultEnvSpecOptions(input));
  assert.equal(
    none.mounts?.some((x) => x.destination === SUPERVISE_PATH),
    false,
  );
});
