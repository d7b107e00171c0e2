// Request counts and latency per route pattern. fastify's routeOptions.url is the pattern
// (`/api/v1/environments/:name`), so the label set stays bounded whatever URLs clients send.
import type { FastifyInstance } from "fastify";
import { type ControlPlaneMetrics, routeLabel } from "./control-plane.ts";

export function installHttpMetrics(app: FastifyInstance, m: ControlPlaneMetrics): void {
  app.addHook("onResponse", (req, reply, done) => {
    const route = routeLabel(req.routeOptions.url);
    m.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    m.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
    done();
  });
}
