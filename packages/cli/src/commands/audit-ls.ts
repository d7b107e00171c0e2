// warren audit ls [--actor A] [--action X] [--since WHEN] [--until WHEN] [--limit N] [--json]:
// the organisation's audit records, newest first (admins). Follows pages up to --limit. WHEN is
// a duration back from now (2h, 1d) or an ISO-8601 time; the table shows ages, --json ISO times.
import { type AuditRecord, escapeControlChars, WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { formatAge, printJson, renderTable } from "../format.ts";
import { parseTimeBound } from "../time-bound.ts";

export interface AuditLsOptions {
  actor?: string;
  action?: string;
  since?: string;
  until?: string;
  limit?: string;
  json?: boolean;
}

// Fields go through escapeControlChars (protocol audit.ts) before they reach the terminal: the
// server escapes on the way in as well, but records written before it did, or by another server,
// must not be able to move the cursor, recolour or rewrite the screen. --json needs nothing (JSON
// escapes control characters itself).
export async function auditLsCommand(opts: AuditLsOptions) {
  const want = opts.limit !== undefined ? Number(opts.limit) : 100;
  if (!Number.isInteger(want) || want < 1)
    throw new WarrenError("INVALID_ARGUMENT", `--limit must be a whole number >= 1, not "${opts.limit}"`);
  const now = Date.now();
  const since = opts.since ? parseTimeBound(opts.since, "--since", now) : undefined;
  const until = opts.until ? parseTimeBound(opts.until, "--until", now) : undefined;
  const client = await connect();
  const out: AuditRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listAudit({
      ...(opts.actor ? { actor: opts.actor } : {}),
      ...(opts.action ? { action: opts.action } : {}),
      ...(since ? { since } : {}),
      ...(until ? { until } : {}),
      ...(cursor ? { cursor } : {}),
      limit: Math.min(500, want - out.length),
    });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && out.length < want);
  if (opts.json) printJson(out);
  else
    process.stdout.write(
      renderTable(
        ["TIME", "ACTOR", "ACTION", "TARGET", "RESULT", "SOURCE"],
        out.map((r) =>
          [
            formatAge(r.at, now),
            r.actor,
            r.action,
            r.target,
            r.code ? `${r.result} ${r.code}` : r.result,
            r.sourceAddress,
          ].map(escapeControlChars),
        ),
      ),
    );
  return 0;
}
