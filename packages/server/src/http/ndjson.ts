// Long operations (image import, base image build) answer with NDJSON: one ProgressEvent per
// line, then { done } or { error }. Once the 200 is sent, errors can only travel in-band.
import { PassThrough } from "node:stream";
import type { ProgressFn } from "@warren/protocol";
import type { FastifyReply, FastifyRequest } from "fastify";
import { toErrorBody } from "./errors.ts";

/** How a streamed operation ended: ok, or the error code it sent in-band. */
export interface StreamOutcome {
  ok: boolean;
  code?: string;
}
const outcomes = new WeakMap<FastifyRequest, Promise<StreamOutcome>>();

/** The outcome of the operation a request streams (settles when the work does, not the socket). */
export function streamOutcome(req: FastifyRequest): Promise<StreamOutcome> | undefined {
  return outcomes.get(req);
}

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
  const ended = running.then(
    (done): StreamOutcome => {
      line({ done });
      return { ok: true };
    },
    (err: unknown): StreamOutcome => {
      const { body, internal } = toErrorBody(err);
      if (internal) req.log.error({ err }, "streamed operation failed");
      line({ error: body });
      return { ok: false, code: body.code };
    },
  );
  outcomes.set(req, ended);
  void ended.finally(() => out.end());
  return reply.type("application/x-ndjson").send(out);
}
