// warren quota set [--org O] [--cpus N] [--memory SIZE] [--disk SIZE] [--user-max-running N] [--token-max-days N]:
// sets the organisation's quotas (admins). "unlimited" (or "none") clears one.
import { type SetQuotasRequest, WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";
import { checkIdleTimeout } from "../options.ts";
import { quotaTable } from "./quota-get.ts";

export interface QuotaSetOptions {
  org?: string;
  cpus?: string;
  memory?: string;
  disk?: string;
  userMaxRunning?: string;
  tokenMaxDays?: string;
  maxIdleTimeout?: string;
  publicPorts?: string;
  json?: boolean;
}

const cleared = (v: string) => v === "unlimited" || v === "none";

function num(flag: string, v: string): number | null {
  if (cleared(v)) return null;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n))
    throw new WarrenError("INVALID_ARGUMENT", `${flag} must be a number or "unlimited", not "${v}"`);
  return n;
}

export async function quotaSetCommand(opts: QuotaSetOptions) {
  const req: SetQuotasRequest = {};
  if (opts.cpus !== undefined) req.cpus = num("--cpus", opts.cpus);
  if (opts.memory !== undefined) req.memory = cleared(opts.memory) ? null : opts.memory;
  if (opts.disk !== undefined) req.disk = cleared(opts.disk) ? null : opts.disk;
  if (opts.userMaxRunning !== undefined) req.userMaxRunning = num("--user-max-running", opts.userMaxRunning);
  if (opts.tokenMaxDays !== undefined) req.tokenMaxDays = num("--token-max-days", opts.tokenMaxDays);
  if (opts.maxIdleTimeout !== undefined) {
    const v = opts.maxIdleTimeout;
    req.maxIdleTimeout =
      cleared(v) || v.trim().toLowerCase() === "never" ? null : checkIdleTimeout(v, "--max-idle-timeout");
  }
  if (opts.publicPorts !== undefined) {
    if (opts.publicPorts !== "allow" && opts.publicPorts !== "deny")
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `--public-ports must be allow or deny, not "${opts.publicPorts}"`,
      );
    req.publicPorts = opts.publicPorts;
  }
  if (Object.keys(req).length === 0) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "nothing to set: give --cpus, --memory, --disk, --user-max-running, --token-max-days, --max-idle-timeout or --public-ports",
    );
  }
  const client = await connect();
  const org = opts.org ?? (await client.whoami()).org.id;
  const view = await client.setQuotas(org, req);
  if (opts.json) printJson(view);
  else process.stdout.write(quotaTable(view));
  return 0;
}
