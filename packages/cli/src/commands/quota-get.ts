// warren quota get [--org O] [--json]: the organisation's quotas and usage (admins).
import { formatIdleTimeout, formatSize, type QuotaView } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson, renderTable } from "../format.ts";

export async function quotaGetCommand(opts: { org?: string; json?: boolean }) {
  const client = await connect();
  const org = opts.org ?? (await client.whoami()).org.id;
  const view = await client.getQuotas(org);
  if (opts.json) printJson(view);
  else process.stdout.write(quotaTable(view));
  return 0;
}

export function quotaTable(v: QuotaView): string {
  const lim = (n: number | null, f: (n: number) => string = String) => (n === null ? "unlimited" : f(n));
  return renderTable(
    ["QUOTA", "LIMIT", "IN USE"],
    [
      ["cpus", lim(v.quotas.cpus), String(v.usage.cpus)],
      ["memory", lim(v.quotas.memoryBytes, formatSize), formatSize(v.usage.memoryBytes)],
      ["disk", lim(v.quotas.diskBytes, formatSize), formatSize(v.usage.diskBytes)],
      ["running per user", lim(v.quotas.userMaxRunning), "-"],
      [
        "token lifetime (days)",
        v.quotas.tokenMaxDays === null ? "server maximum" : String(v.quotas.tokenMaxDays),
        "-",
      ],
      // Absent from a server older than idle stop: shown as no maximum.
      [
        "idle timeout",
        v.quotas.maxIdleTimeoutSeconds ? formatIdleTimeout(v.quotas.maxIdleTimeoutSeconds) : "unlimited",
        "-",
      ],
      // Absent from a server older than port visibility, which had no public ports.
      ["public ports", v.quotas.publicPorts ?? "deny", "-"],
    ],
  );
}
