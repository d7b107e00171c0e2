// Audit retention (WARREN_AUDIT_RETENTION_DAYS): an hourly sweep is ample for a limit counted in
// days. Returns the function that stops it.
import type { Logger } from "./logger.ts";
import { system } from "./services/actor.ts";
import type { AuditService } from "./services/audit.ts";

export function startAuditRetention(audit: AuditService, log: Logger): () => void {
  const retention = system("audit-retention");
  const sweep = () =>
    audit.sweep(retention).then(
      (n) => n > 0 && log.info({ removed: n }, "old audit records removed"),
      (err: unknown) => log.warn({ err }, "audit retention sweep failed; retried next hour"),
    );
  void sweep();
  const timer = setInterval(sweep, 3_600_000);
  timer.unref();
  return () => clearInterval(timer);
}
