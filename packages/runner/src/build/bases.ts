// A Dockerfile's FROM image, as a local OCI layout buildah can start from: found in Warren's
// store under the name as written or its canonical name, else pulled by Warren's own registry
// client (its address guard: no private or loopback addresses unless allowed, digests checked).
import { type ProgressFn, parseImageRef } from "@warren/protocol";
import type { EngineContext } from "../engine/context.ts";
import { registryPolicy } from "../storage/registry/policy.ts";
import { pullFromRegistry } from "../storage/registry/pull.ts";
import { type BaseLayout, baseLayout } from "./base-layout.ts";

export async function resolveBase(
  ctx: EngineContext,
  image: string,
  progress: ProgressFn,
): Promise<BaseLayout> {
  let ref = image;
  if (!(await ctx.images.has(image).catch(() => false))) {
    const canonical = parseImageRef(image).canonical;
    if (await ctx.images.has(canonical)) ref = canonical;
    else {
      progress({ phase: "build", message: `pulling ${image} for FROM` });
      ref = (await pullFromRegistry(ctx.images, image, progress, { policy: registryPolicy(ctx.cfg) })).ref;
    }
  }
  progress({ phase: "build", message: `FROM ${image}: using ${ref} from the image store` });
  return baseLayout(ctx.images, ref);
}
