import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { HttpDeps } from "./build.ts";
import { CreateClassBody, NameParams } from "./schemas.ts";

const CLASSES = `${API_PREFIX}/classes`;

export function classRoutes(app: FastifyInstance, { classes }: HttpDeps): void {
  app.get(CLASSES, async () => ({ items: await classes.list() }));

  app.post<{ Body: CreateClassBody }>(CLASSES, { schema: { body: CreateClassBody } }, async (req, reply) =>
    reply.status(201).send(await classes.create(req.body)),
  );

  app.delete<{ Params: NameParams }>(
    `${CLASSES}/:name`,
    { schema: { params: NameParams } },
    async (req, reply) => {
      await classes.delete(req.params.name);
      return reply.status(204).send();
    },
  );
}
