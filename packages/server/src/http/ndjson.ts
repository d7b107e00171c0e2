// Long operations (image import, base image build) answer with NDJSON: one ProgressEvent per
// line, then { done } or { error }. Once the 200 is sent, errors can only travel in-band.
import { PassThrough } from "node:stream";
import type { ProgressFn } from "@warren/protocol";
import type { FastifyReply, FastifyRequest } from "fastify";
import { toErrorBody } from "./errors.ts";

export function sendNdjson<T>(
  req: FastifyRequest,
  reply: FastifyReply,
  work: (progress: ProgressFn) => Promise<T>,
) {
  const out = new PassThrough();
  const line = (obj: unknown) => {
    if (!out.writableEnded) out.write(`${JSON.stringify(obj)}\n`);
  };
  // Called synchronously so argument errors thrown before any work starts become a plain 4xx.
  const running = work((ev) => line(ev));
  running
    .then(
      (done) => line({ done }),
      (err: unknown) => {
        const { body, internal } = toErrorBody(err);
        if (internal) req.log.error({ err }, "streamed operation failed");
        line({ error: body });
      },
    )
    .finally(() => out.end());
  return reply.type("application/x-ndjson").send(out);
}
