// What an environment may have in the nft sets, on disk in the runner's volatile dir (the sets
// vanish on reboot too). Written before the firewall changes, so after a crash at any point a
// teardown still knows every element to take out, including an old egress allow-list.
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { EnvElements } from "./nft-elements.ts";
import type { NetworkConfig } from "./types.ts";

export interface EnvNetState {
  slot: number;
  /** Element groups that may be present: one after a clean change, two while one is pending. */
  owned: EnvElements[];
}

const file = (nc: NetworkConfig, id: string) => path.join(nc.stateDir, `${id}.json`);

export function readEnvState(nc: NetworkConfig, id: string): EnvNetState | null {
  try {
    return JSON.parse(readFileSync(file(nc, id), "utf8")) as EnvNetState;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    // Unreadable (e.g. emptied by hand): treat as unknown; teardown then reads the sets instead.
    if (err instanceof SyntaxError) return null;
    throw err;
  }
}

export function writeEnvState(nc: NetworkConfig, id: string, state: EnvNetState): void {
  const f = file(nc, id);
  writeFileSync(`${f}.tmp`, JSON.stringify(state));
  renameSync(`${f}.tmp`, f);
}

export function removeEnvState(nc: NetworkConfig, id: string): void {
  rmSync(file(nc, id), { force: true });
}

/** Deduplicated by content, keeping order. */
export function uniqueElements(list: EnvElements[]): EnvElements[] {
  const seen = new Set<string>();
  return list.filter((e) => {
    const k = JSON.stringify(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
