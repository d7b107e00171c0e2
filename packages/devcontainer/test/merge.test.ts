import assert from "node:assert/strict";
import { test } from "node:test";
import {
  checkPolicy,
  DEFAULT_DEVCONTAINER_POLICY,
  featureContributions,
  forwardedPorts,
  imageMetadata,
  lifecycleCommands,
  mergeConfiguration,
  pickClassFor,
  volumeMounts,
  waitFor,
} from "@warren/devcontainer";
import { type ClassSpec, WarrenError } from "@warren/protocol";

test("imageMetadata reads an array or an object, and skips what it cannot read", () => {
  assert.deepEqual(imageMetadata(undefined), []);
  assert.deepEqual(imageMetadata("not json"), []);
  assert.deepEqual(imageMetadata("42"), []);
  assert.deepEqual(imageMetadata('{"remoteUser":"a"}'), [{ remoteUser: "a" }]);
  assert.deepEqual(imageMetadata('[{"remoteUser":"a","capAdd":"NOT_A_LIST"}, 7, {"init":true}]'), [
    { remoteUser: "a" },
    { init: true },
  ]);
});

test("merge: image label, then Features, then devcontainer.json, by the reference's rules", () => {
  const merged = mergeConfiguration(
    {
      image: "x",
      remoteUser: "cfg",
      containerEnv: { A: "cfg" },
      capAdd: ["SYS_PTRACE"],
      mounts: ["source=c,target=/d,type=volume"],
      postCreateCommand: "cfg",
      forwardPorts: [3000],
    },
    [
      {
        remoteUser: "img",
        containerEnv: { A: "img", B: "img" },
        mounts: ["source=i,target=/d,type=volume"],
        postCreateCommand: "img",
        forwardPorts: ["localhost:3000", 9000],
      },
    ],
    [
      {
        id: "./f",
        metadata: {
          id: "f",
          init: true,
          capAdd: ["SYS_PTRACE", "NET_ADMIN"],
          postCreateCommand: ["f", "x"],
          containerEnv: { F: "image-env" },
          entrypoint: "/e",
        },
      },
    ],
  );
  assert.equal(merged.remoteUser, "cfg");
  assert.deepEqual(merged.containerEnv, { A: "cfg", B: "img" });
  assert.deepEqual(merged.capAdd, ["SYS_PTRACE", "NET_ADMIN"]);
  assert.deepEqual(merged.mounts, ["source=c,target=/d,type=volume"]);
  assert.deepEqual(merged.postCreateCommands, ["img", ["f", "x"], "cfg"]);
  assert.deepEqual(merged.forwardPorts, [3000, 9000]);
  assert.deepEqual(merged.entrypoints, ["/e"]);
  assert.equal(merged.init, true);
  assert.equal(merged.privileged, false);
  assert.equal("postCreateCommand" in merged, false);
});

test("featureContributions keeps what a Feature adds, well-typed", () => {
  assert.deepEqual(
    featureContributions({
      id: "f",
      containerEnv: { A: "1" },
      privileged: "yes",
      capAdd: ["X"],
      options: {},
    }),
    {
      capAdd: ["X"],
      containerEnv: { A: "1" },
    },
  );
});

const POLICY: [string, Parameters<typeof mergeConfiguration>, RegExp][] = [
  [
    "privileged from a Feature",
    [{}, [], [{ id: "./dind", metadata: { privileged: true } }]],
    /^Feature \.\/dind asks for privileged: true: refused by the organisation's policy allowPrivileged/,
  ],
  [
    "capAdd from the image",
    [{}, [{ capAdd: ["SYS_ADMIN"] }], []],
    /^the image's devcontainer\.metadata label asks for capAdd SYS_ADMIN .*allowCapAdd/,
  ],
  [
    "securityOpt",
    [{ securityOpt: ["seccomp=unconfined"] }, [], []],
    /securityOpt seccomp=unconfined: .*allowSecurityOpt/,
  ],
  ["runArgs", [{ runArgs: ["--privileged"] }, [], []], /runArgs .*allowRunArgs/],
  [
    "host bind mount",
    [{ mounts: ["source=/var/run/docker.sock,target=/var/run/docker.sock,type=bind"] }, [], []],
    /^devcontainer\.json asks for a host bind mount .*allowHostMounts/,
  ],
];

for (const [name, args, says] of POLICY) {
  test(`policy refuses ${name} by default and allows it when the policy says so`, () => {
    const merged = mergeConfiguration(...args);
    assert.throws(
      () => checkPolicy(merged, DEFAULT_DEVCONTAINER_POLICY),
      (e: unknown) => e instanceof WarrenError && e.code === "POLICY_DENIED" && says.test(e.message),
    );
    checkPolicy(merged, {
      allowHostMounts: true,
      allowPrivileged: true,
      allowCapAdd: true,
      allowSecurityOpt: true,
      allowRunArgs: true,
    });
  });
}

test("policy allows volumes and capabilities within the default set; refuses compose with the alternative", () => {
  checkPolicy(
    mergeConfiguration({ capAdd: ["CAP_CHOWN", "net_bind_service"], mounts: ["source=v,target=/v"] }, [], []),
  );
  assert.throws(
    () => checkPolicy(mergeConfiguration({ dockerComposeFile: "docker-compose.yml" }, [], [])),
    /not supported; .*Features.*automations\.yaml services/,
  );
  assert.throws(
    () => checkPolicy(mergeConfiguration({ mounts: ["type=tmpfs,target=/t"] }, [], [])),
    /type tmpfs/,
  );
});

test("volumeMounts names volumes, anonymous ones after their target, and refuses unsafe names", () => {
  assert.deepEqual(
    volumeMounts(["source=cache,target=/c,type=volume", { type: "volume", target: "/var/lib/x" }]),
    [
      { name: "cache", target: "/c" },
      { name: "anon-var-lib-x", target: "/var/lib/x" },
    ],
  );
  assert.throws(() => volumeMounts(["source=../x,target=/c,type=volume"]), /not usable/);
});

const classes = [
  { name: "large", cpus: 8, memoryBytes: 32 * 2 ** 30, diskBytes: 100 * 2 ** 30 },
  { name: "small", cpus: 2, memoryBytes: 4 * 2 ** 30, diskBytes: 20 * 2 ** 30 },
  { name: "medium", cpus: 4, memoryBytes: 8 * 2 ** 30, diskBytes: 50 * 2 ** 30 },
] as ClassSpec[];

test("pickClassFor picks the smallest class that fits, and names the largest when none does", () => {
  assert.equal(pickClassFor(undefined, classes), undefined);
  assert.equal(pickClassFor({ cpus: 1 }, classes), "small");
  assert.equal(pickClassFor({ cpus: 2, memory: "8gb" }, classes), "medium");
  assert.equal(pickClassFor({ storage: "60gb" }, classes), "large");
  assert.equal(pickClassFor({ memory: String(8 * 2 ** 30) }, classes), "medium");
  assert.equal(pickClassFor({ cpus: 2, gpu: "optional" }, classes), "small");
  assert.throws(
    () => pickClassFor({ cpus: 16 }, classes),
    /fit no class; the largest is 'large' \(8 cpus, 32Gi memory, 100Gi disk\)/,
  );
  assert.throws(() => pickClassFor({ gpu: true }, classes), /GPU/);
});

test("forwardedPorts: local ports with their attributes; other hosts skipped", () => {
  const merged = mergeConfiguration(
    {
      forwardPorts: [3000, "localhost:8080", "db:5432", 8050],
      portsAttributes: {
        "3000": { label: "Web", onAutoForward: "openBrowser", requireLocalPort: true },
        "8040-8060": { label: "Range" },
      },
      otherPortsAttributes: { onAutoForward: "ignore" },
    },
    [],
    [],
  );
  assert.deepEqual(forwardedPorts(merged), [
    { port: 3000, label: "Web", onAutoForward: "openBrowser", requireLocalPort: true },
    { port: 8080, onAutoForward: "ignore" },
    { port: 8050, label: "Range" },
  ]);
});

test("lifecycleCommands gives one command per source in order; waitFor defaults to updateContentCommand", () => {
  const merged = mergeConfiguration(
    { postStartCommand: { a: "x", b: ["y"] } },
    [{ postStartCommand: "img" }],
    [],
  );
  assert.deepEqual(lifecycleCommands(merged, "postStartCommand"), ["img", { a: "x", b: ["y"] }]);
  assert.deepEqual(lifecycleCommands(merged, "onCreateCommand"), []);
  assert.equal(waitFor(merged), "updateContentCommand");
  assert.equal(waitFor(mergeConfiguration({ waitFor: "postStartCommand" }, [], [])), "postStartCommand");
});
