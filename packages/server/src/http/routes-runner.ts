// The runner protocol over HTTP (/api/runner/v1, runner tokens only: http/auth.ts). A runner dials
// out and upgrades GET /api/runner/v1/connect to a WebSocket, naming its protocol version; a
// runner of another version is refused at the upgrade (426) with both versions named. The
// WebSocket then carries HTTP/2 with the control plane as client: it opens the control stream,
// reads the runner's hello there, and calls the RunnerApi over it, with exec and dial on streams
// of their own (protocol runner-wire.ts, streams/; server runners/hub.ts). Not under /api/v1, so
// not in the user API's OpenAPI document: it is a separate API with separate tokens.
//
// Any organisation's admin can mint a runner token, so everything a runner sends is hostile: the
// hello and its info are checked against the protocol's schema here, every later frame by its
// RemoteRunner. A frame that breaks the protocol closes that one connection with a reason and is
// recorded in the organisation's audit trail (rate-limited per runner, so a runner that reconnects
// and misbehaves in a loop cannot flood it).
import type { IncomingMessage } from "node:http";
import {
  AUDIT_RUNNER_PROTOCOL_VIOLATION,
  closeReason,
  keepAlive,
  RUNNER_CONNECT_PATH,
  RUNNER_PROTOCOL_HEADER,
  RUNNER_WIRE_VERSION,
  type RunnerFrame,
  WarrenError,
  WIRE_CLOSE,
  type WireConn,
} from "@warren/protocol";
import { checkHelloInfo, parseRunnerFrame, WireViolation } from "@warren/protocol/runner-validate";
import { controlConn, createStreamClient, type StreamClient } from "@warren/protocol/streams";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { RunnerHub } from "../runners/hub.ts";
import { AttachRefused } from "../runners/runner-identity.ts";
import type { AuditService } from "../services/audit.ts";
import type { LiveSessions } from "../services/live-sessions.ts";
import { sourceOf } from "./audit-hook.ts";
import { auditRunnerLink } from "./runner-audit.ts";

/** A runner that does not say hello in this long is dropped. */
const HELLO_TIMEOUT_MS = 10_000;
/** Audit records of protocol violations per runner token per minute; the rest only reach the log. */
const VIOLATIONS_AUDITED_PER_MINUTE = 10;

export function runnerRoutes(
  app: FastifyInstance,
  hub: RunnerHub | undefined,
  audit?: AuditService,
  sessions?: LiveSessions,
): void {
  app.get("/api/runner/v1/ping", (req) => ({ ok: true, orgId: req.principal?.orgId }));
  const audited = new Map<string, { minute: number; count: number }>();
  const mayAudit = (tokenId: string): boolean => {
    const minute = Math.floor(Date.now() / 60_000);
    const seen = audited.get(tokenId);
    if (!seen || seen.minute !== minute) {
      if (audited.size > 10_000) audited.clear(); // bounded: only this minute's tokens matter
      audited.set(tokenId, { minute, count: 1 });
      return true;
    }
    return ++seen.count <= VIOLATIONS_AUDITED_PER_MINUTE;
  };

  // The 101 answer names this control plane's version, so a newer runner can refuse it by name.
  app.websocketServer?.on("headers", (headers: string[], req: IncomingMessage) => {
    if (req.url?.split("?")[0] === RUNNER_CONNECT_PATH)
      headers.push(`${RUNNER_PROTOCOL_HEADER}: ${RUNNER_WIRE_VERSION}`);
  });

  app.get(RUNNER_CONNECT_PATH, { websocket: true, preValidation: checkVersion }, (socket, req) => {
    const p = req.principal;
    const fail = (code: number, message: string) => {
      req.log.warn({ message }, "runner connection refused");
      try {
        socket.close(code, closeReason(message));
      } catch {
        socket.terminate();
      }
    };
    const hooks = {
      onViolation: (code: number, reason: string) => {
        if (p?.kind !== "runner") return;
        req.log.warn({ runnerId: p.tokenId, orgId: p.orgId, code, reason }, "runner broke the protocol");
        if (!audit || !mayAudit(p.tokenId)) return;
        audit
          .record({
            orgId: p.orgId,
            actor: `runner:${p.tokenId}`,
            action: AUDIT_RUNNER_PROTOCOL_VIOLATION,
            target: `${p.tokenId}: ${reason}`,
            sourceAddress: sourceOf(req),
            result: code === WIRE_CLOSE.internal ? "error" : "denied",
            code: "INVALID_ARGUMENT",
          })
          .catch((err: unknown) => req.log.warn({ err }, "recording a runner protocol violation"));
      },
    };
    if (p?.kind !== "runner") return fail(WIRE_CLOSE.policy, "runner tokens only");
    if (!hub) {
      return fail(
        WIRE_CLOSE.policy,
        "this daemon runs its runner in-process (embedded mode); remote runners connect to `warren server`",
      );
    }
    keepAlive(socket);
    const streams = createStreamClient(socket, {
      onProblem: (message) => req.log.debug({ runnerId: p.tokenId, message }, "runner stream"),
    });
    let conn: WireConn | undefined;
    // Bad HTTP/2 from the runner breaks the protocol as a bad frame does.
    streams.session.on("error", (err) => {
      const why = `bad frame: transport: ${err.message}`;
      if (conn) conn.close(WIRE_CLOSE.protocol, why);
      else {
        hooks.onViolation(WIRE_CLOSE.protocol, closeReason(why));
        fail(WIRE_CLOSE.protocol, why);
      }
    });
    // A live session (services/live-sessions.ts): revoking or expiring the runner token closes the
    // link with 4401 at once, failing its calls in flight, so no further call (no secret) reaches it.
    let remote: Awaited<ReturnType<RunnerHub["attach"]>> | undefined;
    const live = sessions?.open("runner", p, (why) => {
      req.log.warn(
        { runnerId: p.tokenId, cause: why.cause },
        "runner disconnected: its token is no longer valid",
      );
      if (remote) remote.close(why.closeReason, why.closeCode);
      else fail(why.closeCode, why.closeReason);
    });
    socket.once("close", () => live?.close());
    let said = false;
    const timer = setTimeout(() => said || fail(WIRE_CLOSE.policy, "no hello within 10 s"), HELLO_TIMEOUT_MS);
    socket.once("close", () => clearTimeout(timer));
    streams.openStream("control").then(
      (stream) => {
        conn = controlConn(stream, socket, hooks);
        helloThenAttach(conn, streams);
      },
      (err: Error) => fail(WIRE_CLOSE.protocol, `the runner did not open its control stream: ${err.message}`),
    );
    const helloThenAttach = (c: WireConn, links: StreamClient) =>
      c.onMessage((text) => {
        if (said) return; // after hello, frames belong to the RemoteRunner
        said = true;
        clearTimeout(timer);
        let f: RunnerFrame;
        let info: ReturnType<typeof checkHelloInfo>;
        try {
          f = parseRunnerFrame(text);
          if (f.t !== "hello") return c.close(WIRE_CLOSE.protocol, `bad hello: expected hello, got ${f.t}`);
          if (f.version !== RUNNER_WIRE_VERSION) {
            return c.close(
              WIRE_CLOSE.protocol,
              `runner protocol version ${f.version} is not ${RUNNER_WIRE_VERSION}; upgrade the runner`,
            );
          }
          info = checkHelloInfo(f.info);
        } catch (err) {
          const code = err instanceof WireViolation ? err.code : WIRE_CLOSE.protocol;
          return c.close(code, `bad hello: ${(err as Error).message}`);
        }
        hub.attach(c, { runnerId: p.tokenId, orgId: p.orgId, info, streams: links }).then(
          (r) => {
            remote = r;
            auditRunnerLink(audit, req, p, socket, info.hostname);
            // Revoked while the hub swept it: it must not stay attached.
            if (live?.ended) r.close(live.ended.closeReason, live.ended.closeCode);
          },
          (err: unknown) => {
            // Who it claims to be clashes with another runner (runners/runner-identity.ts): the
            // reason says which and what to change; not a store failure, not a violation.
            if (err instanceof AttachRefused) {
              req.log.warn({ runnerId: p.tokenId, reason: err.message }, "runner refused");
              socket.close(WIRE_CLOSE.policy, closeReason(err.message));
              return;
            }
            const msg = err instanceof WarrenError || err instanceof Error ? err.message : String(err);
            req.log.warn({ runnerId: p.tokenId, err }, "runner attach failed");
            // Not a violation of the runner's (the store may have failed): closed without an audit record.
            socket.close(WIRE_CLOSE.internal, closeReason(`runner attach failed: ${msg}`));
          },
        );
      });
  });
}

/**
 * Refuses, before the upgrade, a runner that speaks another protocol version (or, from before
 * versions were announced, none), naming both versions and which side to upgrade.
 */
function checkVersion(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
  const h = req.headers[RUNNER_PROTOCOL_HEADER];
  const theirs = typeof h === "string" && /^[0-9]{1,6}$/.test(h) ? Number(h) : undefined;
  if (theirs === RUNNER_WIRE_VERSION) {
    done();
    return;
  }
  const older = theirs === undefined || theirs < RUNNER_WIRE_VERSION;
  const message =
    `runner protocol version mismatch: the runner speaks ${theirs === undefined ? "v1 (it announces no version)" : `v${theirs}`}, ` +
    `this control plane speaks v${RUNNER_WIRE_VERSION}; upgrade the ${older ? "runner" : "control plane"} so both run the same Warren version`;
  req.log.warn({ runnerVersion: theirs ?? 1 }, "runner refused: protocol version mismatch");
  void reply.code(426).send({ code: "VERSION_MISMATCH", message });
}
