// warren pool set IMAGE [--class C] --min N --max M [--schedule "mon-fri 08:00-18:00=5"] [--json]
// warren pool ls [--json]; warren pool rm IMAGE [--class C]
// Warm pools keep ready environments of an image and class, so `warren up --image IMAGE --class C`
// (with nothing else overridden) takes one over in milliseconds. Admins only.
import { escapeControlChars, type WarmPool, WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson, renderTable } from "../format.ts";

export interface PoolSetOptions {
  class?: string;
  min?: string;
  max?: string;
  schedule?: string;
  json?: boolean;
}

function count(flag: string, v: string | undefined, fallback?: number): number {
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new WarrenError("INVALID_ARGUMENT", `give ${flag} N: warren pool set IMAGE --min N --max M`);
  }
  if (!/^\d{1,3}$/.test(v))
    throw new WarrenError("INVALID_ARGUMENT", `${flag} must be a whole number from 0 to 100, not "${v}"`);
  return Number(v);
}

export async function poolSetCommand(image: string, o: PoolSetOptions): Promise<number> {
  const min = count("--min", o.min);
  const max = count("--max", o.max, min);
  const client = await connect();
  const pool = await client.setPool({
    image,
    min,
    max,
    ...(o.class ? { className: o.class } : {}),
    ...(o.schedule !== undefined ? { schedule: o.schedule } : {}),
  });
  if (o.json) printJson(pool);
  else
    process.stdout.write(
      `pool of ${pool.image} (${pool.className}): min ${pool.min}, max ${pool.max}${pool.schedule ? `, schedule ${pool.schedule}` : ""}; ${pool.ready} ready now\n`,
    );
  return 0;
}

export function poolTable(items: WarmPool[]): string {
  if (items.length === 0)
    return "(no warm pools: an admin makes one with `warren pool set IMAGE --min N --max M`)\n";
  const rows = items.map((p) => [
    p.image,
    p.className,
    `${p.min}-${p.max}`,
    String(p.target),
    String(p.ready),
    String(p.starting),
    `${p.recentClaims}/${p.claimsTotal}`,
    p.schedule || "-",
    p.failures > 0 ? escapeControlChars(`backoff x${p.failures}: ${p.lastError ?? ""}`).slice(0, 100) : "",
  ]);
  return renderTable(
    ["IMAGE", "CLASS", "MIN-MAX", "TARGET", "READY", "STARTING", "CLAIMS 5M/ALL", "SCHEDULE", "STATUS"],
    rows,
  );
}

export async function poolLsCommand(o: { json?: boolean }): Promise<number> {
  const client = await connect();
  const items = await client.listPools();
  if (o.json) printJson(items);
  else process.stdout.write(poolTable(items));
  return 0;
}

export async function poolRmCommand(image: string, o: { class?: string }): Promise<number> {
  const client = await connect();
  const removed = await client.removePool(image, o.class);
  if (!removed) {
    process.stderr.write(
      `warren: no pool of ${image} (${o.class ?? "default"}); \`warren pool ls\` lists them\n`,
    );
    return 1;
  }
  process.stdout.write(
    `removed the pool of ${image} (${o.class ?? "default"}); its unclaimed environments go\n`,
  );
  return 0;
}
