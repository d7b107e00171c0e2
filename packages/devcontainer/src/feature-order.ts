// Feature install order, as the spec's round-based sort does it: each round takes every Feature
// whose dependsOn (hard) and installsAfter (soft, only among the Features present) are installed;
// of those, only the ones with the highest overrideFeatureInstallOrder priority go in this round,
// sorted by reference for a stable order. A round with nothing to take is a cycle.
import { WarrenError } from "@warren/protocol";
import type { FeatureRef } from "./types.ts";

/** A Feature reference without its version: ./x normalised, ghcr.io/o/f:1 -> ghcr.io/o/f. */
export function featureKey(ref: string): string {
  const r = ref.trim();
  if (r.startsWith("./") || r.startsWith("../") || r === "." || r === "..") return normalisePath(r);
  if (/^https?:\/\//i.test(r)) return r;
  const noDigest = r.replace(/@sha256:[0-9a-f]*$/i, "");
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return (colon > slash ? noDigest.slice(0, colon) : noDigest).toLowerCase();
}

function normalisePath(p: string): string {
  const out: string[] = [];
  let ups = 0;
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length) out.pop();
      else ups++;
    } else out.push(part);
  }
  return `${ups ? "../".repeat(ups) : "./"}${out.join("/")}`;
}

interface Node {
  f: FeatureRef;
  key: string;
  aliases: string[];
  dependsOn: Node[];
  installsAfter: Node[];
  priority: number;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function matches(n: Node, ref: string): boolean {
  const k = featureKey(ref);
  return n.key === k || n.aliases.includes(k);
}

/** The hard dependencies (dependsOn) of the Features that are not among them, with their options. */
export function missingDependencies(features: FeatureRef[]): { source: string; options: unknown }[] {
  const keys = new Set(features.map((f) => featureKey(f.source)));
  const out: { source: string; options: unknown }[] = [];
  for (const f of features) {
    const deps = f.metadata["dependsOn"];
    if (deps === null || typeof deps !== "object" || Array.isArray(deps)) continue;
    for (const [ref, options] of Object.entries(deps)) {
      if (keys.has(featureKey(ref))) continue;
      keys.add(featureKey(ref));
      out.push({ source: ref, options });
    }
  }
  return out;
}

/** The install order of the Features, as their `source`s. */
export function orderFeatures(features: FeatureRef[], override?: string[]): string[] {
  const nodes: Node[] = features.map((f) => {
    const key = featureKey(f.source);
    const base =
      key.includes("/") && !key.startsWith(".") && !/^https?:/.test(key)
        ? key.slice(0, key.lastIndexOf("/") + 1)
        : "";
    const ids = [
      typeof f.metadata["currentId"] === "string" ? f.metadata["currentId"] : f.id,
      ...strings(f.metadata["legacyIds"]),
    ];
    return {
      f,
      key,
      aliases: base ? ids.map((i) => `${base}${i}`.toLowerCase()) : [],
      dependsOn: [],
      installsAfter: [],
      priority: 0,
    };
  });
  for (const n of nodes) {
    const deps = n.f.metadata["dependsOn"];
    if (deps !== null && typeof deps === "object" && !Array.isArray(deps)) {
      for (const ref of Object.keys(deps)) {
        const dep = nodes.find((d) => matches(d, ref));
        if (!dep) {
          throw new WarrenError(
            "INVALID_ARGUMENT",
            `Feature ${n.f.source} depends on ${ref}, which is not among the Features; add it to devcontainer.json's features`,
            { feature: n.f.source, dependsOn: ref },
          );
        }
        if (dep !== n) n.dependsOn.push(dep);
      }
    }
    // Soft dependencies on Features that are not present are dropped, as the spec says.
    for (const ref of strings(n.f.metadata["installsAfter"])) {
      const after = nodes.find((d) => d !== n && matches(d, ref));
      if (after) n.installsAfter.push(after);
    }
  }
  const list = override ?? [];
  list.forEach((ref, i) => {
    const hit = nodes.filter((n) => matches(n, ref));
    if (hit.length === 0) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `overrideFeatureInstallOrder names ${ref}, which is not among the Features; remove it or add the Feature`,
        { override: ref },
      );
    }
    for (const n of hit) n.priority = Math.max(n.priority, list.length - i);
  });

  const installed = new Set<Node>();
  let work = nodes;
  const order: string[] = [];
  while (work.length > 0) {
    const ready = work.filter(
      (n) => n.dependsOn.every((d) => installed.has(d)) && n.installsAfter.every((d) => installed.has(d)),
    );
    if (ready.length === 0) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `Features depend on each other in a cycle (dependsOn/installsAfter): ${work.map((n) => n.f.source).join(", ")}; break the cycle in their devcontainer-feature.json or drop one`,
        { features: work.map((n) => n.f.source) },
      );
    }
    const top = Math.max(...ready.map((n) => n.priority));
    const round = ready
      .filter((n) => n.priority === top)
      .sort((a, b) => a.key.localeCompare(b.key) || a.f.source.localeCompare(b.f.source));
    for (const n of round) {
      installed.add(n);
      order.push(n.f.source);
    }
    work = work.filter((n) => !installed.has(n));
  }
  return order;
}
