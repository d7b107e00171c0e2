// `warren devcontainer read-config` against the reference implementation (@devcontainers/cli's
// `read-configuration --include-merged-configuration --docker-path podman`) on a fixture set that
// covers every property docs/devcontainer-support.md lists as supported. Each fixture's image is
// made in a private podman storage with the fixture's devcontainer.metadata label, which Warren's
// side is given too. Host tier: podman runs as root (with its own config and storage).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { readConfig } from "../src/commands/devcontainer-read-config.ts";
import { type PodmanSandbox, podmanSandbox } from "./devcontainer-reference-podman.ts";

const exec = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../../..");
const fixtures = path.join(root, "packages/devcontainer/test/fixtures");
const referenceCli = path.join(root, "node_modules/@devcontainers/cli/devcontainer.js");

/** The merged properties Warren supports (docs/devcontainer-support.md), compared one by one. */
const COMPARED = [
  "name",
  "image",
  "build",
  "dockerFile",
  "context",
  "workspaceFolder",
  "features",
  "overrideFeatureInstallOrder",
  "forwardPorts",
  "portsAttributes",
  "otherPortsAttributes",
  "containerEnv",
  "remoteEnv",
  "containerUser",
  "remoteUser",
  "updateRemoteUserUID",
  "userEnvProbe",
  "overrideCommand",
  "init",
  "privileged",
  "capAdd",
  "securityOpt",
  "mounts",
  "runArgs",
  "hostRequirements",
  "customizations",
  "entrypoints",
  "initializeCommand",
  "onCreateCommands",
  "updateContentCommands",
  "postCreateCommands",
  "postStartCommands",
  "postAttachCommands",
  "waitFor",
];

/** Where Warren deliberately differs, each with its reason: "fixture/property". */
const EXCEPTIONS: Record<string, string> = {
  "variables/mounts":
    "The devcontainerId variable: the reference's read-configuration leaves it unresolved (it knows the id only once a container exists); Warren resolves it when it reads the configuration, from the environment's labels (variables.test.ts checks its form)",
};

const cases = readdirSync(fixtures).sort();
const env = { WARREN_DC_CONFORMANCE_VAR: "from-the-cli-user" };
let podman: PodmanSandbox;

before(async () => {
  const t0 = Date.now();
  const images = new Map<string, string | undefined>();
  for (const c of cases) {
    const labelFile = path.join(fixtures, c, "image-metadata.json");
    const label = existsSync(labelFile)
      ? JSON.stringify(JSON.parse(readFileSync(labelFile, "utf8")))
      : undefined;
    images.set(`localhost/warren-dc-conformance:${c}`, label);
  }
  podman = await podmanSandbox(images);
  console.log(`images: ${Date.now() - t0} ms`);
});
after(async () => {
  await podman?.cleanup();
});

function configFileOf(dir: string): string | undefined {
  if (existsSync(path.join(dir, ".devcontainer/devcontainer.json"))) return undefined;
  if (existsSync(path.join(dir, ".devcontainer.json"))) return undefined;
  const named = readdirSync(path.join(dir, ".devcontainer"))[0]!;
  return path.join(dir, ".devcontainer", named, "devcontainer.json");
}

async function reference(dir: string): Promise<Record<string, unknown>> {
  const config = configFileOf(dir);
  const { stdout } = await exec(
    process.execPath,
    [
      referenceCli,
      "read-configuration",
      "--workspace-folder",
      dir,
      ...(config ? ["--config", config] : []),
      "--include-merged-configuration",
      // Warren's workspace is the repository itself, not the git root around the fixture.
      "--mount-workspace-git-root",
      "false",
      "--docker-path",
      "podman",
    ],
    { env: { ...podman.env, ...env }, maxBuffer: 16 * 1024 * 1024 },
  );
  return JSON.parse(stdout).mergedConfiguration;
}

/** Two at a time: the machine has two cores. */
async function inPairs<T, R>(items: T[], fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += 2) out.push(...(await Promise.all(items.slice(i, i + 2).map(fn))));
  return out;
}

test("the merged configuration equals the reference's for every supported property", async () => {
  assert.ok(cases.length >= 8, "the fixture set is there");
  const t0 = Date.now();
  const results = await inPairs(cases, async (c) => {
    const dir = path.join(fixtures, c);
    const labelFile = path.join(dir, "image-metadata.json");
    const ours = readConfig(dir, {
      imageMetadataLabel: existsSync(labelFile) ? readFileSync(labelFile, "utf8") : undefined,
      localEnv: { ...process.env, ...env } as Record<string, string>,
    });
    return { c, ours: JSON.parse(JSON.stringify(ours.mergedConfiguration)), ref: await reference(dir) };
  });
  console.log(`reference runs: ${Date.now() - t0} ms for ${cases.length} fixtures`);
  const diffs: string[] = [];
  let compared = 0;
  for (const { c, ours, ref } of results) {
    for (const prop of COMPARED) {
      if (Object.hasOwn(EXCEPTIONS, `${c}/${prop}`)) continue;
      compared++;
      try {
        assert.deepStrictEqual(ours[prop], ref[prop]);
      } catch {
        diffs.push(
          `${c}/${prop}: warren ${JSON.stringify(ours[prop])} != reference ${JSON.stringify(ref[prop])}`,
        );
      }
    }
  }
  assert.deepEqual(diffs, [], `differences from the reference:\n${diffs.join("\n")}`);
  assert.ok(compared > cases.length * 20);
});
