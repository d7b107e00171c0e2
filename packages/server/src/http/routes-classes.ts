import { Type } from "@sinclair/typebox";
import { API_PREFIX } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import { requestActor } from "./auth.ts";
import type { HttpDeps } from "./build.ts";
import { CreateClassBody, NameParams } from "./schemas.ts";
import { ClassSpec, errors, items } from "./schemas-response.ts";

const CLASSES = `${API_PREFIX}/classes`;
const tags = ["classes"];

export function classRoutes(app: FastifyInstance, { classes }: HttpDeps): void {
  app.get(
    CLASSES,
    {
      schema: {
        operationId: "listClasses",
        tags,
        summary: "Every class, built-in ones included.",
        response: { 200: items(ClassSpec), ...errors() },
      },
    },
    async (req) => ({ items: await classes.list(requestActor(req)) }),
  );

  app.post<{ Body: CreateClassBody }>(
    CLASSES,
    {
      schema: {
        operationId: "createClass",
        tags,
        summary: "Create a class.",
        body: CreateClassBody,
        response: {
          201: ClassSpec,
          ...errors("INVALID_ARGUMENT", "INVALID_SIZE", "RUNTIME_UNSUPPORTED", "CLASS_EXISTS", "FORBIDDEN"),
        },
      },
    },
    async (req, reply) => reply.status(201).send(await classes.create(requestActor(req), req.body)),
  );

  app.delete<{ Params: NameParams }>(
    `${CLASSES}/:name`,
    {
      schema: {
        operationId: "deleteClass",
        tags,
        summary: "Delete a class no environment uses.",
        params: NameParams,
        response: {
          204: Type.Null({ description: "Deleted" }),
          ...errors("INVALID_ARGUMENT", "CLASS_NOT_FOUND", "CLASS_IN_USE", "CLASS_BUILTIN", "FORBIDDEN"),
        },
      },
    },
    async (req, reply) => {
      await classes.delete(requestActor(req), req.params.name);
      return reply.status(204).send();
    },
  );
}
