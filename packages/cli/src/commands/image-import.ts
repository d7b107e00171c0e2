// warren image import PATH [--ref REF] [--json]: PATH is read by the daemon on the same host, so
// it is made absolute here (the daemon's cwd is not the caller's).
import { resolve } from "node:path";
import { connect } from "../connect.ts";
import { imageTable, printJson } from "../format.ts";
import { progressDisplay } from "../progress.ts";

export async function imageImportCommand(path: string, opts: { ref?: string; json?: boolean }) {
  const client = await connect();
  const progress = progressDisplay(process.stderr);
  let image: Awaited<ReturnType<typeof client.importImage>>;
  try {
    image = await client.importImage(resolve(path), opts.ref, progress.update);
  } finally {
    progress.finish();
  }
  if (opts.json) printJson(image);
  else process.stdout.write(imageTable([image]));
  return 0;
}
