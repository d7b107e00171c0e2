// The `hook` provider: an operator's executable makes and removes hosts (Terraform, a cloud CLI,
// a script). Its path comes only from the control plane's configuration file, never from the
// API. It runs with fixed argv (`create`, `delete` or `status`), no shell, a scrubbed environment
// (PATH, LANG and what the file lists), in its own process group killed at the timeout. The
// request is JSON on stdin; the answer is one JSON object on stdout:
//   create {requestId, pool, name, labels, server, token, tokenExpiresAt} → {"id": "..."}
//   delete {id} → anything (exit 0 means gone)
//   status {id} → {"state": "pending"|"running"|"failed"|"gone", "detail"?: "..."}
// The same idempotency as every provider is asked of it (providers/types.ts).
import { spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import { checkSafeId, HOST_STATES, type HostProvider, type HostState, type HostStatus } from "./types.ts";

export interface HookProviderOptions {
  /** Absolute path of the executable. */
  path: string;
  /** Extra environment the hook gets (from the configuration file); nothing else is inherited. */
  env?: Record<string, string>;
  timeoutMs?: { create?: number; delete?: number; status?: number };
}

const MAX_OUTPUT = 1024 * 1024;
const BASE_ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8" };

/** Refuses a hook others could replace: it runs with the control plane's rights. */
export function checkHookPath(p: string): void {
  if (!path.isAbsolute(p)) throw new Error(`the hook path must be absolute, not ${JSON.stringify(p)}`);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(p);
  } catch {
    throw new Error(`the hook ${p} does not exist`);
  }
  if (!st.isFile()) throw new Error(`the hook ${p} is not a regular file`);
  if (st.mode & 0o022) {
    throw new Error(
      `the hook ${p} is writable by others (mode ${(st.mode & 0o777).toString(8)}); run \`chmod go-w ${p}\``,
    );
  }
  try {
    accessSync(p, constants.X_OK);
  } catch {
    throw new Error(`the hook ${p} is not executable; run \`chmod +x ${p}\``);
  }
}

export function runHook(
  o: HookProviderOptions,
  verb: "create" | "delete" | "status",
  input: unknown,
  timeoutMs: number,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(o.path, [verb], {
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...BASE_ENV, ...o.env },
      cwd: "/",
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let failure: string | undefined;
    const kill = (why: string) => {
      failure ??= why;
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => kill(`timed out after ${timeoutMs} ms`), timeoutMs);
    child.stdout.on("data", (b: Buffer) => {
      size += b.length;
      if (size > MAX_OUTPUT) kill(`printed more than ${MAX_OUTPUT} bytes`);
      else out.push(b);
    });
    child.stderr.on("data", (b: Buffer) => {
      if (err.reduce((n, x) => n + x.length, 0) < 64 * 1024) err.push(b);
    });
    child.stdin.on("error", () => undefined); // a hook that does not read its input
    child.stdin.end(JSON.stringify(input));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`hook ${o.path} ${verb}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString("utf8").trim().slice(-2000);
      const tail = stderr ? `: ${stderr}` : "";
      if (failure) return reject(new Error(`hook ${o.path} ${verb} ${failure}${tail}`));
      if (code !== 0) {
        return reject(new Error(`hook ${o.path} ${verb} exited with ${code ?? signal}${tail}`));
      }
      const text = Buffer.concat(out).toString("utf8").trim();
      if (verb === "delete" && text === "") return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(
          new Error(
            `hook ${o.path} ${verb} printed no JSON object on stdout (got ${JSON.stringify(text.slice(0, 200))})`,
          ),
        );
      }
    });
  });
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function createHookProvider(o: HookProviderOptions): HostProvider {
  checkHookPath(o.path);
  const t = { create: 300_000, delete: 300_000, status: 30_000, ...o.timeoutMs };
  return {
    kind: "hook",
    async create(req) {
      checkSafeId("request id", req.requestId);
      const res = await runHook(o, "create", req, t.create);
      if (!isObject(res) || typeof res["id"] !== "string") {
        throw new Error(
          `hook ${o.path} create must print {"id": "..."}, got ${JSON.stringify(res).slice(0, 200)}`,
        );
      }
      checkSafeId(`hook ${o.path} create returned id`, res["id"]);
      return { id: res["id"] };
    },
    async delete(id) {
      checkSafeId("host id", id);
      await runHook(o, "delete", { id }, t.delete);
    },
    async status(id): Promise<HostStatus> {
      checkSafeId("host id", id);
      const res = await runHook(o, "status", { id }, t.status);
      const state = isObject(res) ? res["state"] : undefined;
      if (typeof state !== "string" || !HOST_STATES.includes(state as HostState)) {
        throw new Error(
          `hook ${o.path} status must print {"state": "${HOST_STATES.join('"|"')}"}, got ${JSON.stringify(res).slice(0, 200)}`,
        );
      }
      const detail =
        isObject(res) && typeof res["detail"] === "string" ? res["detail"].slice(0, 500) : undefined;
      return { id, state: state as HostState, ...(detail ? { detail } : {}) };
    },
  };
}
