// Before a create, the image must be in the runner's store, as `warren up` does it: the base image
// is built on first use, a registry image pulled if missing. Both answer NDJSON progress lines.
import { ApiError, api, apiFetch, unwrap } from "./api.ts";

export const DEFAULT_IMAGE = "warren/debian:bookworm";

type Line = { phase?: string; message?: string; done?: unknown; error?: { code: string; message: string } };

async function readNdjson(res: Response, onProgress: (text: string) => void): Promise<void> {
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      const raw = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      nl = buf.indexOf("\n");
      if (!raw) continue;
      const line = JSON.parse(raw) as Line;
      if (line.error) throw new ApiError(500, line.error);
      if (line.message) onProgress(line.phase ? `${line.phase}: ${line.message}` : line.message);
    }
  }
}

/** Whether a reference names a registry host (as protocol's image-ref.ts decides), so can be pulled. */
function namesRegistry(ref: string): boolean {
  const slash = ref.indexOf("/");
  if (slash < 0) return false;
  const first = ref.slice(0, slash);
  return first === "localhost" || first.includes(".") || first.includes(":") || first.startsWith("[");
}

export async function ensureImage(
  image: string | undefined,
  onProgress: (text: string) => void,
): Promise<void> {
  if (image === undefined || image === DEFAULT_IMAGE) {
    const res = await apiFetch("/api/v1/images/base", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    await readNdjson(res, onProgress);
    return;
  }
  if (!namesRegistry(image)) return;
  const have = await unwrap(api.GET("/api/v1/images"));
  if (have.items.some((i) => i.ref === image)) return;
  onProgress(`pulling ${image}`);
  const res = await apiFetch("/api/v1/images/pull", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ref: image }),
  });
  await readNdjson(res, onProgress);
}
