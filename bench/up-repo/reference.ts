// The reference: @devcontainers/cli's `devcontainer up --docker-path podman`, with podman set up
// as DESIGN.md says works on these hosts (runc, ulimits within the hard limits). All of podman's
// configuration and storage is in a private temp dir named by CONTAINERS_CONF,
// CONTAINERS_STORAGE_CONF and CONTAINERS_REGISTRIES_CONF: the host's global config and image
// store are never touched, and cleanup() removes everything this run made.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { REPO } from "@warren/testing/e2e-harness";

const CLI = path.join(REPO, "node_modules/@devcontainers/cli/devcontainer.js");

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
  ms: number;
  /** The command line, for messages. */
  line: string;
}

/** Runs a command without blocking the event loop; resolves with its output and wall time. */
export function timed(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 900_000,
): Promise<Run> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        status: code ?? (signal ? 128 : 1),
        stdout,
        stderr: signal ? `${stderr}\n(killed by ${signal} after ${timeoutMs} ms)` : stderr,
        ms: Number(process.hrtime.bigint() - t0) / 1e6,
        line: [cmd, ...args].join(" "),
      });
    });
  });
}

/** Throws with the command and the tail of its stderr when it failed. */
export function check(r: Run): Run {
  if (r.status !== 0) throw new Error(`\`${r.line}\` exited ${r.status}:\n${tail(r.stderr || r.stdout)}`);
  return r;
}

export const tail = (s: string, n = 2500) => (s.length > n ? `…${s.slice(-n)}` : s).trim();

export interface Reference {
  env: NodeJS.ProcessEnv;
  podman(args: string[]): Promise<Run>;
  /** `devcontainer up` for a checkout; `config` picks another devcontainer.json. */
  up(folder: string, config?: string): Promise<Run>;
  exec(folder: string, cmd: string[], config?: string): Promise<Run>;
  /** The id of the container the reference made for a checkout. */
  containerOf(folder: string): Promise<string>;
  /** Imports a root filesystem as `ref` and pushes it to the (plain HTTP) registry. */
  pushRootfs(layerDir: string, ref: string): Promise<void>;
  cleanup(): Promise<void>;
}

export function makeReference(dir: string, registryHost: string): Reference {
  mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, "containers.conf");
  const storageConf = path.join(dir, "storage.conf");
  const registriesConf = path.join(dir, "registries.conf");
  writeFileSync(
    conf,
    '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n\n[engine]\nruntime = "runc"\n',
  );
  writeFileSync(
    storageConf,
    `[storage]\ndriver = "overlay"\ngraphroot = "${dir}/storage"\nrunroot = "${dir}/run"\n`,
  );
  writeFileSync(
    registriesConf,
    `unqualified-search-registries = []\n\n[[registry]]\nlocation = "${registryHost}"\ninsecure = true\n`,
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CONTAINERS_CONF: conf,
    CONTAINERS_STORAGE_CONF: storageConf,
    CONTAINERS_REGISTRIES_CONF: registriesConf,
    // The CLI keeps its Feature build contexts under the temp dir: this run's, so they go with it.
    TMPDIR: path.join(dir, "tmp"),
  };
  mkdirSync(path.join(dir, "tmp"));
  // The options go before a command to run: `exec … true --docker-path podman` would run that.
  const cli = (sub: string, args: string[]) =>
    timed(process.execPath, [CLI, sub, "--docker-path", "podman", ...args], env);
  const podman = (args: string[]) => timed("podman", args, env);
  return {
    env,
    podman,
    up: (folder, config) =>
      cli("up", ["--workspace-folder", folder, ...(config ? ["--config", path.join(folder, config)] : [])]),
    exec: (folder, cmd, config) =>
      cli("exec", [
        "--workspace-folder",
        folder,
        ...(config ? ["--config", path.join(folder, config)] : []),
        ...cmd,
      ]),
    async containerOf(folder) {
      const r = check(
        await podman(["ps", "-a", "-q", "--filter", `label=devcontainer.local_folder=${folder}`]),
      );
      const id = r.stdout.trim().split("\n")[0];
      if (!id) throw new Error(`no reference container for ${folder}`);
      return id;
    },
    async pushRootfs(layerDir, ref) {
      const tar = spawn("tar", ["-C", layerDir, "-c", "."], { stdio: ["ignore", "pipe", "inherit"] });
      const imp = spawn("podman", ["import", "--change", 'CMD ["/bin/bash"]', "-", ref], {
        env,
        stdio: [tar.stdout, "ignore", "pipe"],
      });
      let err = "";
      imp.stderr.on("data", (d: Buffer) => {
        err += d.toString();
      });
      // "exit", not "close": tar's stdout went to podman, so this side of it never ends.
      const tarDone = new Promise<number | null>((r) => tar.on("exit", r));
      const code = await new Promise<number | null>((r) => imp.on("close", r));
      if ((await tarDone) !== 0) throw new Error(`tar -C ${layerDir} failed: see its stderr above`);
      if (code !== 0) throw new Error(`podman import: ${err}`);
      check(await podman(["push", "--quiet", ref]));
    },
    async cleanup() {
      // Only this run's store: its containers and images, then whatever podman left mounted.
      spawnSync("podman", ["rm", "-a", "-f", "-t", "0"], { env, stdio: "ignore" });
      spawnSync("podman", ["rmi", "-a", "-f"], { env, stdio: "ignore" });
      const mounts = readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .map((l) => l.split(" ")[4] ?? "")
        .filter((m) => m.startsWith(`${dir}/`))
        .reverse();
      for (const m of mounts) spawnSync("umount", ["-l", m]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
