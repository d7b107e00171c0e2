// warren image prune [--json]: evicts unused images past the cache cap (least recently used
// first), then deletes layers no image names. Never touches anything an environment uses.
import { formatSize } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";

export async function imagePruneCommand(opts: { json?: boolean }) {
  const client = await connect();
  const res = await client.pruneImages();
  if (opts.json) {
    printJson(res);
    return 0;
  }
  // Layers are digests; anything else in the list is an evicted image's ref.
  const lines = res.removed.map((r) =>
    r.startsWith("sha256:") ? `removed layer ${r}` : `removed image ${r}`,
  );
  process.stdout.write(`${[...lines, `freed ${formatSize(res.freedBytes)}`].join("\n")}\n`);
  return 0;
}
