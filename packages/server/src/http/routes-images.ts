import { Type } from "@sinclair/typebox";
import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import { requestActor } from "./auth.ts";
import type { HttpDeps } from "./build.ts";
import { sendNdjson } from "./ndjson.ts";
import { BaseImageBody, ImportBody, PullBody } from "./schemas.ts";
import { errors, ImageInfo, items, ndjson, Pruned, Removed } from "./schemas-response.ts";

const IMAGES = `${API_PREFIX}/images`;
const tags = ["images"];
// Once the 200 is sent, failures travel in-band as a final { error } line.
const STREAMED = "NDJSON: ProgressEvent lines, then a final { done: ImageInfo } or { error: ErrorBody }.";

export function imageRoutes(app: FastifyInstance, { images }: HttpDeps): void {
  app.get(
    IMAGES,
    {
      schema: {
        operationId: "listImages",
        tags,
        summary: "The organisation's images (pulled or imported by it), plus the shared base image.",
        response: { 200: items(ImageInfo), ...errors() },
      },
    },
    async (req) => ({ items: await images.list(requestActor(req)) }),
  );

  app.post<{ Body: ImportBody }>(
    `${IMAGES}/import`,
    {
      schema: {
        operationId: "importImage",
        tags,
        summary: "Import an OCI image archive from a path on the runner's host.",
        body: ImportBody,
        response: { ...ndjson(STREAMED), ...errors("INVALID_ARGUMENT", "FORBIDDEN") },
      },
    },
    (req, reply) =>
      sendNdjson(req, reply, (progress) =>
        images.import(requestActor(req), req.body.path, req.body.ref, progress),
      ),
  );

  app.post<{ Body: PullBody }>(
    `${IMAGES}/pull`,
    {
      schema: {
        operationId: "pullImage",
        tags,
        summary: "Pull an image from a registry, with the organisation's stored login for its host.",
        body: PullBody,
        response: { ...ndjson(STREAMED), ...errors("INVALID_ARGUMENT") },
      },
    },
    (req, reply) =>
      sendNdjson(req, reply, (progress) => images.pull(requestActor(req), req.body.ref, progress)),
  );

  // Refs contain `/` and `:`; the client url-encodes them into one path segment.
  app.delete<{ Params: { ref: string } }>(
    `${IMAGES}/:ref`,
    {
      schema: {
        operationId: "removeImage",
        tags,
        summary:
          "Remove the organisation's image; the runner deletes it (answering the layers freed) unless another organisation holds it.",
        params: Type.Object({ ref: Type.String({ description: "Image ref, url-encoded" }) }),
        response: {
          200: Removed,
          ...errors("INVALID_ARGUMENT", "FORBIDDEN", "IMAGE_NOT_FOUND", "IMAGE_IN_USE"),
        },
      },
    },
    (req) => images.remove(requestActor(req), req.params.ref),
  );

  app.post(
    `${IMAGES}/prune`,
    {
      schema: {
        operationId: "pruneImages",
        tags,
        summary:
          "Remove unused images past the cache cap, then unreferenced layers; never another organisation's images.",
        response: { 200: Pruned, ...errors("FORBIDDEN") },
      },
    },
    (req) => images.prune(requestActor(req)),
  );

  app.post<{ Body: BaseImageBody }>(
    `${IMAGES}/base`,
    {
      schema: {
        operationId: "ensureBaseImage",
        tags,
        summary: "Build the default image if it is missing.",
        body: BaseImageBody,
        response: { ...ndjson(STREAMED), ...errors("INVALID_ARGUMENT") },
      },
    },
    (req, reply) =>
      sendNdjson(req, reply, (progress) => images.ensureBase(requestActor(req), req.body?.mirror, progress)),
  );
}
