// Request bounds beyond fastify's body limit: JSON nesting depth. A 1 MiB body can nest a
// hundred thousand levels, which recursive consumers (validation, logging, our own code) turn
// into stack overflows; no real request here nests deeper than a handful.
import { WarrenError } from "@warren/protocol";
import type { FastifyInstance } from "fastify";

export const MAX_JSON_DEPTH = 32;

/** Depth of a parsed JSON value (a scalar is 0, `{}` is 1); stops counting past `limit`. Iterative,
 *  so a hostile body cannot overflow the stack here either. */
export function jsonDepth(value: unknown, limit = Number.POSITIVE_INFINITY): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    const depth = d + 1;
    if (depth > max) max = depth;
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth]);
  }
  return max;
}

export function installBounds(app: FastifyInstance, maxDepth = MAX_JSON_DEPTH): void {
  // preValidation: after parsing, before schema validation walks the body recursively. Callback
  // style, not async: an async hook adds a tick to every request, which WebSocket upgrades notice.
  app.addHook("preValidation", (req, _reply, done) => {
    const body = req.body;
    // A streamed body (an uploaded tar) is bytes, not parsed JSON: nothing to walk.
    const streamed = typeof (body as { pipe?: unknown } | null)?.pipe === "function";
    if (!streamed && body !== null && typeof body === "object" && jsonDepth(body, maxDepth) > maxDepth) {
      return done(
        new WarrenError("INVALID_ARGUMENT", `the JSON body nests deeper than ${maxDepth} levels`, {
          maxDepth,
        }),
      );
    }
    done();
  });
}
