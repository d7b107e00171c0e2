import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { HttpDeps } from "./build.ts";
import { sendNdjson } from "./ndjson.ts";
import { BaseImageBody, ImportBody, PullBody } from "./schemas.ts";

const IMAGES = `${API_PREFIX}/images`;

export function imageRoutes(app: FastifyInstance, { images }: HttpDeps): void {
  app.get(IMAGES, async () => ({ items: await images.list() }));

  app.post<{ Body: ImportBody }>(`${IMAGES}/import`, { schema: { body: ImportBody } }, (req, reply) =>
    sendNdjson(req, reply, (progress) => images.import(req.body.path, req.body.ref, progress)),
  );

  app.post<{ Body: PullBody }>(`${IMAGES}/pull`, { schema: { body: PullBody } }, (req, reply) =>
    sendNdjson(req, reply, (progress) => images.pull(req.body.ref, progress)),
  );

  // Refs contain `/` and `:`; the client url-encodes them into one path segment.
  app.delete<{ Params: { ref: string } }>(`${IMAGES}/:ref`, (req) => images.remove(req.params.ref));

  app.post(`${IMAGES}/prune`, () => images.prune());

  app.post<{ Body: BaseImageBody }>(`${IMAGES}/base`, { schema: { body: BaseImageBody } }, (req, reply) =>
    sendNdjson(req, reply, (progress) => images.ensureBase(req.body?.mirror, progress)),
  );
}
