// The daemon's logger, made before the app exists (the services take one).
import Fastify, { type FastifyBaseLogger } from "fastify";

/**
 * The daemon needs its logger before the app exists (the services take one); a logger-only
 * fastify instance yields fastify's own pino setup without a direct pino dependency.
 */
export function daemonLogger(logger: FastifyBaseLogger | boolean | undefined): FastifyBaseLogger {
  if (typeof logger === "object") return logger;
  // Request bodies are not logged by default; redact them anyway, so a secret's value (PUT
  // /api/v1/secrets) or a registry password never reaches the log if a handler logs one.
  return Fastify({
    logger:
      logger === false
        ? false
        : { level: "info", redact: { paths: ["body", "req.body", "request.body"], censor: "[redacted]" } },
  }).log;
}
