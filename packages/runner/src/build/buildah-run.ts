// Runs buildah with a clean environment (no host variables reach a build) and its own
// containers.conf (the host's registries and defaults play no part), turning its output lines
// into progress events and its failure into a message that says which step failed.
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { type ProgressFn, WarrenError } from "@warren/protocol";
import { unprotected } from "../host/oom-protection.ts";

const TAIL_LINES = 20;

export async function runBuildah(
  args: string[],
  work: string,
  progress: ProgressFn,
  phase: string,
): Promise<void> {
  const conf = path.join(work, "containers.conf");
  await fs.writeFile(conf, "[containers]\n[engine]\n", { flag: "w" });
  const env = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: work,
    TMPDIR: work,
    CONTAINERS_CONF: conf,
    CONTAINERS_REGISTRIES_CONF: path.join(work, "registries.conf"),
    BUILDAH_ISOLATION: "oci",
  };
  await fs.writeFile(
    env.CONTAINERS_REGISTRIES_CONF,
    'unqualified-search-registries = []\nshort-name-mode = "disabled"\n',
  );
  // RUN steps are users' work: they must not inherit a protected runner's OOM score.
  const [cmd, argv] = unprotected("buildah", args);
  const child = spawn(cmd, argv, { env, cwd: work, stdio: ["ignore", "pipe", "pipe"] });
  const tail: string[] = [];
  const onLines = (buf: { rest: string }) => (d: Buffer) => {
    const text = buf.rest + d.toString("utf8");
    const lines = text.split("\n");
    buf.rest = lines.pop() ?? "";
    for (const raw of lines) {
      const line = raw.replace(/\r/g, "").slice(0, 4096);
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      progress({ phase: "build", message: line });
    }
  };
  child.stdout.on("data", onLines({ rest: "" }));
  child.stderr.on("data", onLines({ rest: "" }));
  const code = await new Promise<number>((resolve, reject) => {
    child.on("error", (e) => reject(new Error(`buildah: ${e.message}`)));
    child.on("close", (c, sig) => resolve(c ?? (sig ? 137 : 1)));
  });
  if (code !== 0) {
    throw new WarrenError(
      "BUILD_FAILED",
      `image ${phase} failed (buildah exit ${code}):\n${tail.join("\n")}`,
      { exitCode: code },
    );
  }
}
