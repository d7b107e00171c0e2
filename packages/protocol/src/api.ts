// The HTTP API under /api/v1, as a typed contract. The server implements these routes and
// `client.ts` calls them; the CLI uses only the client.
//
//   GET    /api/v1/health                          -> { ok: true, version }
//   GET    /api/v1/runner                          -> RunnerInfo
//   GET    /api/v1/environments                    -> { items: Environment[] }
//   POST   /api/v1/environments  CreateEnvRequest  -> 201 Environment (new) | 200 Environment (same spec exists; started if needed)
//          ?wait=1 waits until state is running or failed (default 1)
//   GET    /api/v1/environments/:name              -> Environment (with `observed`, incl. pid, uid range, cgroups, PSI)
//   POST   /api/v1/environments/:name/start        -> Environment (waits)
//   POST   /api/v1/environments/:name/stop         -> Environment (waits)   body { graceSeconds?: number }
//   DELETE /api/v1/environments/:name?force=1      -> 204 (waits until every host object is gone)
//   GET    /api/v1/environments/:name/logs?follow=1&tail=N -> text/plain stream
//   GET    /api/v1/environments/:name/exec?cmd=JSON&tty=1&cols=&rows= -> WebSocket (exec-stream.ts)
//   GET    /api/v1/classes                         -> { items: ClassSpec[] }
//   POST   /api/v1/classes       CreateClassRequest -> 201 ClassSpec
//   DELETE /api/v1/classes/:name                   -> 204
//   GET    /api/v1/images                          -> { items: ImageInfo[] }
//   POST   /api/v1/images/base   { mirror? }         -> NDJSON progress like import; builds the default image if missing
//   POST   /api/v1/images/import { path, ref? }    -> application/x-ndjson stream of ProgressEvent lines, then
//                                                    a final line { done: ImageInfo } or { error: ErrorBody }
// Errors: every non-2xx response body is an ErrorBody { code, message, details }.
import type { ClassSpec, CreateClassRequest, CreateEnvRequest, Environment, ImageInfo } from "./env.ts";
import type { ExecHandlers, ExecRequest, ExecSession, ProgressFn, RunnerInfo } from "./runner.ts";

export interface ApiClient {
  health(): Promise<{ ok: true; version: string }>;
  runnerInfo(): Promise<RunnerInfo>;
  listEnvironments(): Promise<Environment[]>;
  createEnvironment(req: CreateEnvRequest): Promise<{ env: Environment; created: boolean }>;
  getEnvironment(name: string): Promise<Environment>;
  startEnvironment(name: string): Promise<Environment>;
  stopEnvironment(name: string, graceSeconds?: number): Promise<Environment>;
  deleteEnvironment(name: string, force: boolean): Promise<void>;
  logs(
    name: string,
    opts: { follow: boolean; tail?: number },
    onData: (chunk: string) => void,
  ): Promise<void>;
  /** Resolves with the session once the stream is open; handlers.exit fires with the command's status. */
  exec(name: string, req: ExecRequest, handlers: ExecHandlers): Promise<ExecSession>;
  listClasses(): Promise<ClassSpec[]>;
  createClass(req: CreateClassRequest): Promise<ClassSpec>;
  deleteClass(name: string): Promise<void>;
  listImages(): Promise<ImageInfo[]>;
  importImage(path: string, ref: string | undefined, progress: ProgressFn): Promise<ImageInfo>;
  ensureBaseImage(mirror: string | undefined, progress: ProgressFn): Promise<ImageInfo>;
}
