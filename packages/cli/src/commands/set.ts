// warren set NAME [--cpus N] [--memory SIZE] [--pids N]: changes a running environment's limits
// live. The new values are its desired state from now on: stop/start and recreate keep them.
// A refused change (memory below what it uses) changes nothing, neither the kernel nor the record.
import { formatIdleTimeout, formatSize, type SetResourcesRequest, WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { formatCpus, printJson } from "../format.ts";
import { checkIdleTimeout, checkSize, parseCpus, parsePositiveInt } from "../options.ts";

export async function setCommand(
  name: string,
  opts: { cpus?: string; memory?: string; pids?: string; idleTimeout?: string; json?: boolean },
): Promise<number> {
  const req: SetResourcesRequest = {};
  if (opts.cpus !== undefined) req.cpus = parseCpus(opts.cpus);
  if (opts.memory !== undefined) req.memory = checkSize(opts.memory, "--memory");
  if (opts.pids !== undefined) req.pids = parsePositiveInt(opts.pids, "--pids");
  if (opts.idleTimeout !== undefined) req.idleTimeout = checkIdleTimeout(opts.idleTimeout);
  if (Object.keys(req).length === 0) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "nothing to change: give --cpus, --memory, --pids or --idle-timeout",
    );
  }
  const client = await connect();
  const env = await client.setEnvironment(name, req);
  if (opts.json) printJson(env);
  else {
    const r = env.spec.resources;
    const live = env.state === "running" ? "applied live" : "applied at the next start";
    if (req.cpus !== undefined || req.memory !== undefined || req.pids !== undefined) {
      process.stdout.write(
        `${env.name}: ${formatCpus(r.cpus)}, ${formatSize(r.memoryBytes)} memory, ${r.pids} pids (${live})\n`,
      );
    }
    if (req.idleTimeout !== undefined) {
      process.stdout.write(
        `${env.name}: idle timeout ${formatIdleTimeout(env.idle?.timeoutSeconds ?? null)}\n`,
      );
    }
  }
  return 0;
}
