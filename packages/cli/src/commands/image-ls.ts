// warren image ls [--json]
import { connect } from "../connect.ts";
import { imageTable, printJson } from "../format.ts";

export async function imageLsCommand(opts: { json?: boolean }) {
  const client = await connect();
  const images = await client.listImages();
  if (opts.json) printJson(images);
  else process.stdout.write(imageTable(images));
  return 0;
}
