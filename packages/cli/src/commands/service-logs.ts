// warren service logs ENV SERVICE [-n N] and warren task logs ENV TASK [-n N]: the last lines of
// a service's or task's output, kept in its log inside the environment.
import { connect } from "../connect.ts";
import { parsePositiveInt } from "../options.ts";

export async function unitLogsCommand(
  kind: "service" | "task",
  env: string,
  name: string,
  opts: { tail?: string },
) {
  const tail = opts.tail === undefined ? undefined : parsePositiveInt(opts.tail, "--tail");
  const client = await connect();
  const o = tail === undefined ? {} : { tail };
  process.stdout.write(
    kind === "service" ? await client.serviceLogs(env, name, o) : await client.taskLogs(env, name, o),
  );
  return 0;
}
