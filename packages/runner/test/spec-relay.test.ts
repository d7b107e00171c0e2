// warren-relay is bound into environments beside warren-init: read-only, no setuid, no devices,
// and only when the caller names it (image builds and bare runtime tests do without).
import assert from "node:assert/strict";
import { it } from "node:test";
import { buildSpec } from "../src/spec/build.ts";
import { defaultEnvSpecOptions, RELAY_PATH_IN_CONTAINER } from "../src/spec/defaults.ts";

const input = {
  rootfs: "/r",
  hostname: "h",
  idMap: { hostStart: 3_000_065_536, size: 65536 },
  cgroupsPath: "/w/w-x",
  initBinary: "/opt/warren/warren-init",
  hostHardLimits: { RLIMIT_NOFILE: 20000, RLIMIT_NPROC: 96365 },
};

it("binds warren-relay read-only at /.warren/relay when given", () => {
  const spec = buildSpec(...defaultEnvSpecOptions({ ...input, relayBinary: "/opt/warren/warren-relay" }));
  const relay = spec.mounts?.filter((m) => m.destination === RELAY_PATH_IN_CONTAINER) ?? [];
  assert.equal(relay.length, 1);
  assert.equal(RELAY_PATH_IN_CONTAINER, "/.warren/relay");
  assert.equal(relay[0]?.source, "/opt/warren/warren-relay");
  for (const o of ["ro", "nosuid", "nodev"])
    assert.ok(relay[0]?.options?.includes(o), `${o} in ${relay[0]?.options}`);
});

it("binds no relay when none is given", () => {
  const spec = buildSpec(...defaultEnvSpecOptions(input));
  assert.equal(
    spec.mounts?.some((m) => m.destination === RELAY_PATH_IN_CONTAINER),
    false,
  );
});
