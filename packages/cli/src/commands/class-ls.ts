// warren class ls [--json]
import { connect } from "../connect.ts";
import { classTable, printJson } from "../format.ts";

export async function classLsCommand(opts: { json?: boolean }) {
  const client = await connect();
  const classes = await client.listClasses();
  if (opts.json) printJson(classes);
  else process.stdout.write(classTable(classes));
  return 0;
}
