// Rows the store tests share: a current environment row, and rows as migration 001 wrote them.
import type { EnvRow } from "../src/store/queries/envs.ts";

const GiB = 1024 ** 3;

export function envRow(id: string, over: Partial<EnvRow> = {}): EnvRow {
  return {
    id,
    name: id,
    class_name: "default",
    image: "img",
    runtime: "runc",
    cpus: 1.5,
    memory_bytes: 3 * GiB,
    disk_bytes: 100 * GiB,
    pids: 100,
    slot: 0,
    desired: "running",
    state: "pending",
    conditions: "[]",
    observed: null,
    stop_grace_ms: 10_000,
    generation: 1,
    egress: '{"mode":"all"}',
    runner_id: "local",
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
    ...over,
    // A cast, not a full literal: columns later migrations add (with defaults) need no edit here.
  } as EnvRow;
}

// Rows as a database made by migration 001 holds them (no later columns).
export const V1_ROWS = [
  `insert into classes (name, cpus, memory_bytes, disk_bytes, pids, runtime, max_cpus,
    max_memory_bytes, max_disk_bytes, builtin, created_at)
    values ('old', 1, 1073741824, 5368709120, 100, 'crun', 2, 1073741824, 5368709120, 0, 't')`,
  `insert into environments (id, name, class_name, image, runtime, cpus, memory_bytes,
    disk_bytes, pids, slot, desired, state, created_at, updated_at)
    values ('aaaaaaaaaaaa', 'legacy', 'old', 'img', 'crun', 1, 1073741824, 5368709120, 100, 0,
    'running', 'running', 't', 't')`,
  `insert into events (env_id, at, message) values ('aaaaaaaaaaaa', 't', 'created')`,
];
