// The runner's side of an environment's configured user, without a host: what the setup's output
// may say, whom exec lands as, the secrets directory's mode, and the /etc/hosts that makes
// `hostname -f` answer NAME.ZONE. The setup script itself runs only inside an environment (e2e).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { RunnerEnvSpec } from "@warren/protocol";
import { execProcess } from "../src/engine/env-spec.ts";
import { configuredUser, parseSetupOutput, userSetupFailure } from "../src/engine/env-user.ts";
import { hostsFile } from "../src/engine/hosts.ts";

const spec: RunnerEnvSpec = {
  id: "abcdefabcdef",
  name: "dev",
  slot: 0,
  image: "warren/debian:bookworm",
  runtime: "runc",
  resources: { cpus: 1, memoryBytes: 1 << 30, diskBytes: 1 << 30, pids: 100 },
};
const dev = { name: "dev", uid: 1000, gid: 1000, home: "/home/dev", groups: [27] };
type Proc = { user: { uid: number; gid: number; additionalGids?: number[] }; env: string[]; cwd: string };

test("root and an absent user need no setup", () => {
  assert.equal(configuredUser(spec), undefined);
  assert.equal(configuredUser({ user: "root" }), undefined);
  assert.equal(configuredUser({ user: "dev" }), "dev");
});

test("the setup's last line is believed only within the environment's ids", () => {
  assert.deepEqual(
    parseSetupOutput(
      "dev",
      "useradd: ok\nwarren-group 27\nwarren-group 1000\nwarren-group 27\nwarren-group 70000\nwarren-user 1000 1000 /home/dev\n",
    ),
    dev,
    "groups: each once, the primary and out-of-range ids left out",
  );
  assert.deepEqual(parseSetupOutput("dev", "warren-user 0 0 /root//x/../\n"), {
    name: "dev",
    uid: 0,
    gid: 0,
    home: "/root/",
    groups: [],
  });
  for (const out of [
    "",
    "warren-user 65536 1000 /home/dev",
    "warren-user 1000 99999 /home/dev",
    "warren-user -1 0 /",
    "warren-user 1000 1000 home/dev",
    "warren-user 1000 1000 /home/dev\nsomething after",
    "warren-user 1000x 1000 /home/dev",
  ]) {
    assert.throws(() => parseSetupOutput("dev", out), /setting up user dev printed/, JSON.stringify(out));
  }
});

test("a missing user that cannot be made says so and what to do", () => {
  const e = userSetupFailure({ ...spec, user: "dev" }, 3, "the image has neither useradd nor adduser\n");
  assert.equal(e.code, "INVALID_ARGUMENT");
  assert.match(
    e.message,
    /^user dev does not exist in image warren\/debian:bookworm and could not be created \(the image has neither useradd nor adduser\); create it in the image, or pick another --user$/,
  );
  assert.match(userSetupFailure({ ...spec, user: "dev" }, 1, "chown: x").message, /could not be set up/);
});

test("exec lands as the environment's user unless the request names one", () => {
  const asDev = execProcess({ ...spec, user: "dev" }, { cmd: ["id"], tty: false }, [], false, dev) as Proc;
  assert.deepEqual(asDev.user, { uid: 1000, gid: 1000, additionalGids: [27] });
  assert.ok(asDev.env.includes("HOME=/home/dev"), asDev.env.join(" "));
  assert.ok(asDev.env.includes("USER=dev"));
  assert.equal(asDev.cwd, "/workspaces/dev");

  const own = execProcess(
    { ...spec, user: "dev" },
    { cmd: ["id"], tty: false, env: { HOME: "/tmp" } },
    [],
    false,
    dev,
  ) as Proc;
  assert.ok(own.env.includes("HOME=/tmp"), "the request's own HOME wins");

  const explicit = execProcess(
    { ...spec, user: "dev" },
    { cmd: ["id"], tty: false, user: "0" },
    [],
    false,
    dev,
  );
  assert.deepEqual((explicit as Proc).user, { uid: 0, gid: 0 });
  const rootEnv = execProcess(spec, { cmd: ["id"], tty: false }, []) as Proc;
  assert.deepEqual(rootEnv.user, { uid: 0, gid: 0 });
  assert.ok(rootEnv.env.includes("HOME=/root"));
});

test("/etc/hosts names the environment under the zone, canonical name first", () => {
  const text = hostsFile("dev", "10.201.3.2", "warren.internal.");
  assert.match(text, /^10\.201\.3\.2\tdev\.warren\.internal dev$/m);
  assert.match(text, /^127\.0\.0\.1\tlocalhost$/m, "the name is no longer an alias of localhost");
  assert.doesNotMatch(text, /127\.0\.0\.1.*dev/);
  // What does not fit a hosts line is left out, never written.
  assert.doesNotMatch(hostsFile("dev\n1.2.3.4 evil", "10.201.3.2", "warren.internal"), /evil|dev/);
  assert.match(hostsFile("dev", "10.201.3.2", "bad zone\n"), /^10\.201\.3\.2\tdev$/m);
  assert.doesNotMatch(hostsFile("dev", "::1; x", "warren.internal"), /dev/);
});
