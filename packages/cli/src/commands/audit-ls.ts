// warren audit ls [--actor A] [--action X] [--since ISO] [--until ISO] [--limit N] [--json]:
// the organisation's audit records, newest first (admins). Follows pages up to --limit.
import { type AuditRecord, escapeControlChars, WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson, renderTable } from "../format.ts";

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
  const client = await connect();
  const want = opts.limit !== undefined ? Number(opts.limit) : 100;
  if (!Number.isInteger(want) || want < 1)
    throw new WarrenError("INVALID_ARGUMENT", `--limit must be a whole number >= 1, not "${opts.limit}"`);
  const out: AuditRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listAudit({
      ...(opts.actor ? { actor: opts.actor } : {}),
      ...(opts.action ? { action: opts.action } : {}),
      ...(opts.since ? { since: opts.since } : {}),
      ...(opts.until ? { until: opts.until } : {}),
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
            r.at,
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
