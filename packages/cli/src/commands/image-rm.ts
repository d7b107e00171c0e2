// warren image rm REF [--json]: refused while an environment is made from the image (the error
// names them); layers no other image uses are deleted with it.
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";

export async function imageRmCommand(ref: string, opts: { json?: boolean }) {
  const client = await connect();
  const res = await client.removeImage(ref);
  if (opts.json) printJson({ ref, ...res });
  else process.stdout.write(`${ref}\n${res.removed.map((l) => `  removed layer ${l}\n`).join("")}`);
  return 0;
}
