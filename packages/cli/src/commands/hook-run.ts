// warren hook run NAME HOOK: run one lifecycle hook now, as the environment's remote user in its
// workspace folder; its output goes to `warren logs` and its exit status becomes this command's.
import { LIFECYCLE_HOOKS, type LifecycleHookName, WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";

export async function hookRunCommand(name: string, hook: string, opts: { json?: boolean }) {
  if (!(LIFECYCLE_HOOKS as readonly string[]).includes(hook)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `unknown hook "${hook}"; use one of ${LIFECYCLE_HOOKS.join(", ")}`,
    );
  }
  const client = await connect();
  const r = await client.runHook(name, hook as LifecycleHookName);
  if (opts.json) printJson(r);
  else
    process.stderr.write(
      `warren: ${hook} ${r.exitCode === 0 ? "done" : `failed: exit ${r.exitCode}`} (output: warren logs ${name})\n`,
    );
  return r.exitCode === 0 ? 0 : 1;
}
