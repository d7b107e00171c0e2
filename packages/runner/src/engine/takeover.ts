// A running environment renamed by the control plane: a warm-pool member taken over by a user's
// create keeps its id (and so every host object, its slot and disk) but gets the user's name.
// Everything that carried the old name follows: the handle, /etc/hostname and /etc/hosts (bind
// mounts of files in its host directory, rewritten in place so the mounts see them), the
// workspace folder /workspaces/NAME, and the kernel hostname of its UTS namespace. Host code and
// host binaries only (the rule in runtime/types.ts): nsenter joins the UTS namespace alone, so
// the `hostname` it runs is the host's, in the host's mount namespace.
import { execFile } from "node:child_process";
import { lchown, lstat, mkdir, rmdir, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { NAME_RE, type RunnerEnvSpec, WarrenError } from "@warren/protocol";
import { hostNames } from "../host/names.ts";
import { envAddress, networkConfig } from "../network/index.ts";
import { readHandle, writeHandle } from "../state/handle.ts";
import type { EngineContext } from "./context.ts";
import { dnsZone } from "./dns.ts";
import { hostsFile } from "./hosts.ts";

const run = promisify(execFile);

/** True when it renamed (the handle named another name); false when there was nothing to do. */
export async function takeOverName(
  ctx: EngineContext,
  spec: RunnerEnvSpec,
  initPid: number,
): Promise<boolean> {
  const names = hostNames(ctx.cfg, spec.id);
  const handle = await readHandle(names.handleFile);
  if (!handle || handle.spec.name === spec.name) return false;
  if (!NAME_RE.test(spec.name)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `cannot rename the environment to ${JSON.stringify(spec.name)}`,
    );
  }
  const { secrets: _secrets, ...kept } = spec;
  await workspaceFolder(path.join(names.workspaceDir, spec.name), handle.hostStart);
  // The old folder was made for the pool and holds nothing; one that is not empty stays.
  await rmdir(path.join(names.workspaceDir, handle.spec.name)).catch(() => undefined);
  const etcDir = path.join(names.envDir, "etc");
  await writeFile(path.join(etcDir, "hostname"), `${spec.name}\n`);
  await writeFile(
    path.join(etcDir, "hosts"),
    hostsFile(spec.name, envAddress(networkConfig(ctx.cfg), spec.slot), dnsZone()),
  );
  if (initPid > 0) {
    await run("nsenter", [`--target=${initPid}`, "--uts", "--", "hostname", spec.name]).catch((e: Error) => {
      throw new Error(`set the hostname of ${spec.id}: ${e.message}`);
    });
  }
  // Last: a failure above leaves the old name in the handle, so the next call retries it all.
  await writeHandle(names.handleFile, { ...handle, spec: kept });
  return true;
}

/** As start.ts makes it: a symlink there goes (its target untouched), the folder is root's inside. */
async function workspaceFolder(dir: string, rootId: number): Promise<void> {
  const st = await lstat(dir).catch(() => null);
  if (st?.isSymbolicLink()) await unlink(dir);
  else if (st && !st.isDirectory()) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `the workspace folder ${path.basename(dir)} is a file, not a folder`,
    );
  }
  await mkdir(dir, { recursive: true });
  await lchown(dir, rootId, rootId);
}
