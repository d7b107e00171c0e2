// saveTemplate: a stopped environment's disk becomes a disk template (storage/disk-template.ts).
// Only a stopped one: a running environment's filesystem changes under the copy.
import { type SavedTemplate, WarrenError } from "@warren/protocol";
import { hostNames } from "../host/names.ts";
import { readHandle } from "../state/handle.ts";
import { checkTemplateKey, saveDiskTemplate } from "../storage/disk-template.ts";
import type { EngineContext } from "./context.ts";

export async function saveEnvTemplate(
  ctx: EngineContext,
  envId: string,
  key: string,
): Promise<SavedTemplate> {
  checkTemplateKey(key);
  const names = hostNames(ctx.cfg, envId);
  const handle = await readHandle(names.handleFile);
  if (!handle) {
    throw new WarrenError("ENV_NOT_FOUND", `environment ${envId} is not on this runner; nothing to save`, {
      id: envId,
    });
  }
  for (const rt of ctx.runtimes.values()) {
    const st = await rt.state(names.containerId);
    if (st && st.status !== "stopped") {
      throw new WarrenError(
        "ENV_RUNNING",
        `environment ${handle.spec.name} is ${st.status}; stop it before saving its disk as a template`,
        { id: envId },
      );
    }
  }
  return saveDiskTemplate(ctx.cfg, names, key, {
    image: handle.spec.image,
    hostStart: handle.hostStart,
    diskBytes: handle.spec.resources.diskBytes,
  });
}
