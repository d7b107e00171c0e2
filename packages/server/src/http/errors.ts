// The one place errors become HTTP: WarrenError -> its catalog status and ErrorBody; fastify's
// own client errors -> INVALID_ARGUMENT; anything else -> 500 INTERNAL, logged with its stack.
import { ERROR_CATALOG, type ErrorBody, isWarrenError } from "@warren/protocol";
import type { FastifyError, FastifyInstance } from "fastify";

export function toErrorBody(err: unknown): { status: number; body: ErrorBody; internal: boolean } {
  if (isWarrenError(err))
    return { status: err.status, body: err.toBody(), internal: err.code === "INTERNAL" };
  const fe = err as Partial<FastifyError>;
  if (fe.validation) {
    return {
      status: 400,
      body: { code: "INVALID_ARGUMENT", message: validationMessage(fe), details: { errors: fe.validation } },
      internal: false,
    };
  }
  if (fe.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    return {
      status: ERROR_CATALOG.PAYLOAD_TOO_LARGE.status,
      body: {
        code: "PAYLOAD_TOO_LARGE",
        message: `the request body is larger than the server accepts: ${fe.message}`,
      },
      internal: false,
    };
  }
  // Fastify's client errors (bad JSON, wrong content type, body too large) carry a 4xx status.
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    return {
      status: fe.statusCode,
      body: {
        code: "INVALID_ARGUMENT",
        message: fe.message ?? "bad request",
        details: { fastifyCode: fe.code },
      },
      internal: false,
    };
  }
  return {
    status: ERROR_CATALOG.INTERNAL.status,
    body: { code: "INTERNAL", message: "internal error in the warren daemon; see its log for details" },
    internal: true,
  };
}

function validationMessage(fe: Partial<FastifyError>): string {
  const first = fe.validation?.[0];
  const where = fe.validationContext ?? "request";
  if (!first) return fe.message ?? "invalid request";
  const params = first.params as Record<string, unknown>;
  const field =
    (typeof params["missingProperty"] === "string" && `${first.instancePath}/${params["missingProperty"]}`) ||
    (typeof params["additionalProperty"] === "string" &&
      `${first.instancePath}/${params["additionalProperty"]}`) ||
    first.instancePath ||
    "";
  const name = field.replace(/^\//, "").replaceAll("/", ".") || where;
  return `invalid ${where} field "${name}": ${first.message ?? "is invalid"}`;
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err, req, reply) => {
    const { status, body, internal } = toErrorBody(err);
    if (internal) req.log.error({ err }, "unhandled error");
    else req.log.info({ code: body.code, msg: body.message }, "request failed");
    return reply.status(status).type("application/json").send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    const body: ErrorBody = { code: "INVALID_ARGUMENT", message: `no such route: ${req.method} ${req.url}` };
    return reply.status(404).send(body);
  });
}
