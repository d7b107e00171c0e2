// Warm pools (services/pools.ts): set, list, remove. Admins only; every change is audited
// (audit-hook.ts). Thin: validate, call, convert.
import { type Static, Type } from "@sinclair/typebox";
import { API_PREFIX, WarrenError } from "@warren/protocol";
import type { FastifyInstance } from "fastify";
import type { PoolService } from "../services/pools.ts";
import { requestActor } from "./auth.ts";
import { errors } from "./schemas-response.ts";

const PATH = `${API_PREFIX}/pools`;
const tags = ["environments"];
const Size = Type.Integer({ minimum: 0, maximum: 100 });

export const WarmPool = Type.Object({
  id: Type.String(),
  image: Type.String(),
  className: Type.String(),
  min: Type.Integer(),
  max: Type.Integer(),
  schedule: Type.String({ description: 'UTC windows raising the minimum, e.g. "mon-fri 08:00-18:00=5"' }),
  target: Type.Integer({ description: "the size aimed for now (minimum, schedule, recent claims, maximum)" }),
  ready: Type.Integer(),
  starting: Type.Integer(),
  recentClaims: Type.Integer({ description: "claims in the last 5 minutes" }),
  claimsTotal: Type.Integer(),
  failures: Type.Integer({ description: "member creations that failed in a row" }),
  retryAt: Type.Optional(Type.String()),
  lastError: Type.Optional(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const SetBody = Type.Object(
  {
    image: Type.String({ minLength: 1, maxLength: 512 }),
    className: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
    min: Size,
    max: Size,
    schedule: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);
const RemoveQuery = Type.Object(
  {
    image: Type.String({ minLength: 1, maxLength: 512 }),
    class: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
  },
  { additionalProperties: false },
);

export function poolRoutes(app: FastifyInstance, svc: PoolService | undefined): void {
  const service = (): PoolService => {
    if (!svc) throw new WarrenError("INVALID_ARGUMENT", "warm pools are not configured on this server");
    return svc;
  };

  app.post<{ Body: Static<typeof SetBody> }>(
    PATH,
    {
      schema: {
        operationId: "setPool",
        tags,
        summary:
          "Keep ready environments of an image and class, so a plain create of that image and class takes one over; creates or replaces the pool.",
        body: SetBody,
        response: {
          200: WarmPool,
          ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN", "CLASS_NOT_FOUND"),
        },
      },
    },
    async (req) => service().set(requestActor(req), req.body),
  );

  app.get(
    PATH,
    {
      schema: {
        operationId: "listPools",
        tags,
        summary: "The organisation's warm pools and what each holds now.",
        response: {
          200: Type.Object({ items: Type.Array(WarmPool) }),
          ...errors("UNAUTHENTICATED", "FORBIDDEN"),
        },
      },
    },
    async (req) => ({ items: await service().list(requestActor(req)) }),
  );

  app.delete<{ Querystring: Static<typeof RemoveQuery> }>(
    PATH,
    {
      schema: {
        operationId: "removePool",
        tags,
        summary: "Remove a warm pool; its unclaimed environments are removed.",
        querystring: RemoveQuery,
        response: {
          200: Type.Object({ removed: Type.Boolean() }),
          ...errors("INVALID_ARGUMENT", "UNAUTHENTICATED", "FORBIDDEN"),
        },
      },
    },
    async (req) => ({ removed: await service().remove(requestActor(req), req.query.image, req.query.class) }),
  );
}
