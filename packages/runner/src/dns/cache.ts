// Bounded LRU of prepared answers. A Map keeps insertion order, so re-inserting on a hit makes
// the oldest key the least recently used one: eviction is `keys().next()`, no linked list.
import type { Answer } from "./answer.ts";

export class AnswerCache {
  readonly #max: number;
  readonly #map = new Map<string, Answer>();

  constructor(maxEntries: number) {
    if (!(maxEntries >= 1)) throw new Error(`dns cache size must be >= 1, got ${maxEntries}`);
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The live answer for `key`, refreshed as most recently used; expired ones are dropped. */
  get(key: string, now: number): Answer | undefined {
    const a = this.#map.get(key);
    if (a === undefined) return undefined;
    if (now >= a.expiresAt) {
      this.#map.delete(key);
      return undefined;
    }
    this.#map.delete(key);
    this.#map.set(key, a);
    return a;
  }

  set(key: string, a: Answer): void {
    if (a.expiresAt <= a.storedAt) return;
    this.#map.delete(key);
    this.#map.set(key, a);
    if (this.#map.size > this.#max) this.#evict();
  }

  clear(): void {
    this.#map.clear();
  }

  // Expired entries die on lookup; when full, the least recently used goes, expired or not.
  #evict(): void {
    while (this.#map.size > this.#max) {
      const k = this.#map.keys().next().value;
      if (k === undefined) return;
      this.#map.delete(k);
    }
  }
}
