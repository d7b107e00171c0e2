// warren task run ENV TASK [--json]: runs a task inside the environment (its dependencies first),
// prints what it wrote and exits with its exit status, as `warren exec` passes a command's through.
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";

/** The lines of the task's last run: its log holds earlier runs too, each after a start line. */
export function lastRun(log: string, task: string): string {
  const marker = `[warren-supervise] starting ${task}\n`;
  const i = log.lastIndexOf(marker);
  return i >= 0 ? log.slice(i + marker.length) : log;
}

export async function taskRunCommand(env: string, task: string, opts: { json?: boolean }) {
  const client = await connect();
  const t = await client.runTask(env, task);
  if (opts.json) printJson(t);
  else {
    process.stdout.write(lastRun(await client.taskLogs(env, task, { tail: 1000 }), task));
    if (t.state === "failed" && t.exitCode === undefined && t.message)
      process.stderr.write(`warren: task ${task} did not run: ${t.message}\n`);
  }
  if (t.state === "done") return 0;
  return t.exitCode !== undefined && t.exitCode !== 0 ? t.exitCode : 1;
}
