// The API client's calls for repository environments: upload a directory (a streamed tar),
// rebuild, run a lifecycle hook.
import type { Readable } from "node:stream";
import type { Environment } from "./env.ts";
import type { LifecycleHookName } from "./repo.ts";

export interface SetupClient {
  /** Streams a tar of a local directory; the id goes into CreateEnvRequest.repo.uploadId. */
  uploadDirectory(tar: Readable): Promise<{ id: string; sizeBytes: number }>;
  rebuildEnvironment(name: string): Promise<Environment>;
  runHook(name: string, hook: LifecycleHookName): Promise<{ hook: LifecycleHookName; exitCode: number }>;
}

interface HttpLike {
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
  stream<T>(method: string, path: string, body: Readable, contentType: string): Promise<T>;
}

export function setupMethods(http: HttpLike, env: (name: string) => string): SetupClient {
  return {
    uploadDirectory: (tar) => http.stream("PUT", "/uploads", tar, "application/x-tar"),
    rebuildEnvironment: (name) => http.json("POST", `${env(name)}/rebuild`, {}),
    runHook: (name, hook) => http.json("POST", `${env(name)}/hooks/${encodeURIComponent(hook)}`, {}),
  };
}
