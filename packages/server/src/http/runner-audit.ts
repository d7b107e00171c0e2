// Runner connections in the audit trail: "runner.connect" once a runner's hello is accepted and it
// is attached, "runner.disconnect" when that connection closes (with the close code and reason).
// A runner that reconnects in a loop must not flood the trail: at most a few connections per
// runner token per minute are recorded, and a disconnect only when its connect was.
import type { FastifyRequest } from "fastify";
import type { AuditService } from "../services/audit.ts";
import { sourceOf } from "./audit-hook.ts";

export const AUDIT_RUNNER_CONNECT = "runner.connect";
export const AUDIT_RUNNER_DISCONNECT = "runner.disconnect";
const CONNECTS_AUDITED_PER_MINUTE = 5;

interface Socketish {
  once(event: "close", cb: (code: number, reason: Buffer) => void): unknown;
}

const recent = new Map<string, { minute: number; count: number }>();
function mayRecord(tokenId: string, now: number): boolean {
  const minute = Math.floor(now / 60_000);
  const seen = recent.get(tokenId);
  if (!seen || seen.minute !== minute) {
    if (recent.size > 10_000) recent.clear(); // bounded: only this minute's tokens matter
    recent.set(tokenId, { minute, count: 1 });
    return true;
  }
  return ++seen.count <= CONNECTS_AUDITED_PER_MINUTE;
}

/** Records that the runner `p` connected from `req` (host `hostname`), and later its disconnect. */
export function auditRunnerLink(
  audit: AuditService | undefined,
  req: FastifyRequest,
  p: { orgId: string; tokenId: string },
  socket: Socketish,
  hostname: string,
  now: () => number = Date.now,
): void {
  if (!audit || !mayRecord(p.tokenId, now())) return;
  const record = (action: string, target: string) =>
    audit
      .record({
        orgId: p.orgId,
        actor: `runner:${p.tokenId}`,
        action,
        target,
        sourceAddress: sourceOf(req),
        result: "ok",
      })
      .catch((err: unknown) => req.log.warn({ err, action }, "could not write the audit record"));
  void record(AUDIT_RUNNER_CONNECT, hostname);
  socket.once("close", (code, reason) => {
    void record(
      AUDIT_RUNNER_DISCONNECT,
      `${hostname}: ${code}${reason.length > 0 ? ` ${reason.toString("utf8")}` : ""}`,
    );
  });
}
