// podman as bench/cli's peer, configured as DESIGN.md says works here (runc; ulimits within the
// hard limits), with its configuration, image store and network configuration in a private temp
// dir: the host's own podman setup is never read or changed. podman's default bridge network
// leaves host objects behind when the last container goes (the cni-podman bridge, its CNI-*
// iptables chains): cleanup() removes those that were not there before this run.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PODMAN_FLAGS } from "../lib/podman.ts";
import { check, type Run, timed } from "../up-repo/reference.ts";

export const IMAGE = "localhost/warren-cli-bench:latest";

export interface PodmanSide {
  env: NodeJS.ProcessEnv;
  podman(args: string[]): Promise<Run>;
  /** `podman run --rm --runtime runc --ulimit … IMAGE true`. */
  runRm(): Promise<Run>;
  cleanup(): Promise<void>;
}

function hostNetObjects(): { links: Set<string>; chains: Map<string, Set<string>> } {
  const links = new Set(
    spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" })
      .stdout.split("\n")
      .map((l) => l.split(":")[1]?.trim().split("@")[0] ?? "")
      .filter(Boolean),
  );
  const chains = new Map<string, Set<string>>();
  for (const table of ["filter", "nat"]) {
    const out = spawnSync("iptables", ["-t", table, "-S"], { encoding: "utf8" }).stdout ?? "";
    chains.set(table, new Set(out.split("\n").flatMap((l) => (l.startsWith("-N ") ? [l.slice(3)] : []))));
  }
  return { links, chains };
}

/** Removes podman's CNI bridge and chains that appeared since `before`, and the rules using them. */
function removeCniLeftovers(before: ReturnType<typeof hostNetObjects>): string[] {
  const now = hostNetObjects();
  const removed: string[] = [];
  for (const link of now.links) {
    if (!before.links.has(link) && link.startsWith("cni-podman")) {
      spawnSync("ip", ["link", "del", link]);
      removed.push(`link ${link}`);
    }
  }
  for (const [table, chains] of now.chains) {
    const fresh = [...chains].filter((c) => c.startsWith("CNI-") && !before.chains.get(table)?.has(c));
    if (fresh.length === 0) continue;
    const rules = (spawnSync("iptables", ["-t", table, "-S"], { encoding: "utf8" }).stdout ?? "").split("\n");
    for (const rule of rules) {
      if (rule.startsWith("-A ") && fresh.some((c) => rule.includes(`-j ${c}`))) {
        spawnSync("sh", ["-c", `iptables -t ${table} ${rule.replace(/^-A /, "-D ")}`]);
      }
    }
    for (const c of fresh) spawnSync("iptables", ["-t", table, "-F", c]);
    for (const c of fresh) spawnSync("iptables", ["-t", table, "-X", c]);
    removed.push(...fresh.map((c) => `iptables ${table} ${c}`));
  }
  return removed;
}

/** Sets up the private podman and imports `layerDir` (Warren's Debian base) as IMAGE. */
export async function makePodmanSide(dir: string, layerDir: string): Promise<PodmanSide> {
  const before = hostNetObjects();
  mkdirSync(path.join(dir, "cni"), { recursive: true });
  const conf = path.join(dir, "containers.conf");
  const storageConf = path.join(dir, "storage.conf");
  writeFileSync(
    conf,
    '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n\n' +
      `[engine]\nruntime = "runc"\n\n[network]\nnetwork_config_dir = "${dir}/cni"\n`,
  );
  writeFileSync(
    storageConf,
    `[storage]\ndriver = "overlay"\ngraphroot = "${dir}/storage"\nrunroot = "${dir}/run"\n`,
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CONTAINERS_CONF: conf,
    CONTAINERS_STORAGE_CONF: storageConf,
    CONTAINERS_REGISTRIES_CONF: path.join(dir, "registries.conf"),
  };
  writeFileSync(env["CONTAINERS_REGISTRIES_CONF"]!, "unqualified-search-registries = []\n");
  const podman = (args: string[]) => timed("podman", args, env);
  const side: PodmanSide = {
    env,
    podman,
    runRm: () => podman(["run", "--rm", ...PODMAN_FLAGS, IMAGE, "true"]),
    async cleanup() {
      spawnSync("podman", ["rm", "-a", "-f", "-t", "0"], { env, stdio: "ignore" });
      spawnSync("podman", ["rmi", "-a", "-f"], { env, stdio: "ignore" });
      const mounts = readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .map((l) => l.split(" ")[4] ?? "")
        .filter((m) => m.startsWith(`${dir}/`))
        .reverse();
      for (const m of mounts) spawnSync("umount", ["-l", m]);
      const removed = removeCniLeftovers(before);
      if (removed.length > 0) console.log(`removed podman's network leftovers: ${removed.join(", ")}`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    const tar = spawn("tar", ["-C", layerDir, "-c", "."], { stdio: ["ignore", "pipe", "inherit"] });
    const imp = spawn("podman", ["import", "-", IMAGE], { env, stdio: [tar.stdout, "ignore", "pipe"] });
    let err = "";
    imp.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    if ((await new Promise<number | null>((r) => imp.on("close", r))) !== 0) {
      throw new Error(`podman import: ${err}`);
    }
    check(await podman(["run", "-d", "--name", "cli-bench", ...PODMAN_FLAGS, IMAGE, "sleep", "infinity"]));
  } catch (err) {
    await side.cleanup();
    throw err;
  }
  return side;
}
