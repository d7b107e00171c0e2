// warren image pull REF [--json]: the daemon's runner pulls from the registry (with the stored
// login for REF's host, if any); progress per layer is shown while it downloads.
import { connect } from "../connect.ts";
import { imageTable, printJson } from "../format.ts";
import { progressDisplay } from "../progress.ts";

export async function imagePullCommand(ref: string, opts: { json?: boolean }) {
  const client = await connect();
  const progress = progressDisplay(process.stderr);
  let image: Awaited<ReturnType<typeof client.pullImage>>;
  try {
    image = await client.pullImage(ref, progress.update);
  } finally {
    progress.finish();
  }
  if (opts.json) printJson(image);
  else process.stdout.write(imageTable([image]));
  return 0;
}
