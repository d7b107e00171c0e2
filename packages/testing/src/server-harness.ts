// Shared test scaffolding: a real SQLite file in a fresh temp dir, a fake runner, and the
// services and controller wired as the daemon wires them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  build,
  type Caller,
  type ChangeFeed,
  type ClassService,
  type Clock,
  createChangeFeed,
  createClassService,
  createEnvironmentController,
  createEnvironmentService,
  createImageService,
  type EnvironmentController,
  type EnvironmentService,
  LOCAL_ROOT,
  openStore,
  type Store,
  type SystemActor,
  silentLogger,
  system,
  systemClock,
} from "@warren/server";
import { FakeRunner } from "./fake-runner.ts";

/** Root on the local socket: the bootstrap organisation's owner, as `warren` on the host acts. */
export const ROOT: Caller = LOCAL_ROOT;
/** The system, for calls only background jobs make (secret delivery, retention sweeps). */
export const SYSTEM: SystemActor = system("test");

export function tempDir(prefix = "warren-test-"): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Harness {
  dir: string;
  store: Store;
  runner: FakeRunner;
  changes: ChangeFeed;
  controller: EnvironmentController;
  envs: EnvironmentService;
  classes: ClassService;
  close(): Promise<void>;
}

export interface HarnessOptions {
  runner?: FakeRunner;
  clock?: Clock;
  settleTimeoutMs?: number;
  /** When false, nothing is reconciled unless the test calls controller.reconcile(). */
  autoReconcile?: boolean;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export async function harness(o: HarnessOptions = {}): Promise<Harness> {
  const tmp = tempDir();
  const store = openStore(tmp.dir);
  const runner = o.runner ?? new FakeRunner();
  const clock = o.clock ?? systemClock;
  const changes = createChangeFeed();
  const controller = createEnvironmentController({
    db: store.db,
    runner,
    clock,
    logger: silentLogger,
    changes,
    resyncMs: 0,
    baseDelayMs: o.baseDelayMs ?? 10,
    maxDelayMs: o.maxDelayMs ?? 50,
  });
  const envs = createEnvironmentService({
    db: store.db,
    runner,
    clock,
    logger: silentLogger,
    changes,
    enqueue: (id) => {
      if (o.autoReconcile !== false) controller.enqueue(id, { now: true });
    },
    defaultRuntime: "runc",
    settleTimeoutMs: o.settleTimeoutMs ?? 5000,
    pollMs: 50,
  });
  const classes = createClassService({ db: store.db, clock });
  return {
    dir: tmp.dir,
    store,
    runner,
    changes,
    controller,
    envs,
    classes,
    async close() {
      await controller.close();
      await store.close();
      tmp.cleanup();
    },
  };
}

export function buildApp(h: Harness) {
  return build({
    envs: h.envs,
    classes: h.classes,
    images: createImageService({ runner: h.runner }),
    runner: h.runner,
    logger: false,
  });
}

export async function countRows(h: Harness, table: "environments" | "classes" | "events"): Promise<number> {
  const r = await h.store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
