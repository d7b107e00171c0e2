// Applies nft scripts. One `nft -f -` per change: the whole script is one kernel transaction,
// all or nothing (measured ~2 ms; a persistent `nft -i` would save the exec but keeps a stale
// userspace cache between changes). Calls from this process run one at a time, so concurrent
// environment set-ups never race on nft's cache generation. Given the warren-net helper's path,
// nft is started by the long-lived warren-netd next to it (netd.ts), which is cheaper than a
// spawn from here; it is still a fresh nft process per change.
import { wrap } from "@warren/protocol";
import { run } from "../host/run.ts";
import { runNet } from "./netd.ts";

let tail: Promise<unknown> = Promise.resolve();

export function applyNft(script: string, what: string, helper?: string): Promise<void> {
  if (!script) return Promise.resolve();
  const next = tail.then(async () => {
    try {
      if (helper) await runNet("nft", helper, ["-f", "-"], script);
      else await run("nft", ["-f", "-"], { input: script });
    } catch (err) {
      throw wrap(what, err);
    }
  });
  tail = next.catch(() => {});
  return next;
}

/** `nft -j list ...` parsed; null when the object does not exist. */
export async function nftListJson(args: string[]): Promise<{ nftables: Record<string, unknown>[] } | null> {
  const res = await run("nft", ["-j", "list", ...args], { allowFail: true });
  if (res.code !== 0) {
    if (/No such file|does not exist/i.test(res.stderr)) return null;
    throw new Error(`nft -j list ${args.join(" ")}: ${res.stderr.trim()}`);
  }
  return JSON.parse(res.stdout) as { nftables: Record<string, unknown>[] };
}

/** Number of rules in a table (the constant-rule-count check and diagnostics). */
export async function countRules(family: string, table: string): Promise<number> {
  const j = await nftListJson(["table", family, table]);
  return j ? j.nftables.filter((o) => "rule" in o).length : 0;
}
