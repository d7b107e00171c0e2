// The runner's end of the wire protocol (runner-wire.ts): answers the control plane's calls with
// any RunnerApi (the real host runner, or a fake one in tests and bench/api). Each call runs
// independently; a failure becomes an "err" frame carrying the catalog error, never a dropped link.
//
// The control plane is checked too (runner-validate.ts): a frame that breaks the protocol, a call id
// that repeats or goes backwards, bad input to an open session, or a throw while handling a frame
// closes the link with a reason (the runner reconnects). Unknown methods and arguments that do not
// fit a method fail that one call with INVALID_ARGUMENT, which is what a version skew looks like.
import { WarrenError } from "./errors.ts";
import type { LogStream, ProgressEvent, RunnerApi } from "./runner.ts";
import {
  RUNNER_WIRE_VERSION,
  type RunnerFrame,
  UNARY_METHODS,
  WIRE_CLOSE,
  type WireConn,
  wireErrorBody,
} from "./runner-wire.ts";

export interface ServeRunnerHooks {
  /** Called once with the id the control plane assigned (the runner token's id). */
  onWelcome?(runnerId: string): void;
  /** Protocol problems from the server (a bad frame): logged by the caller. */
  onProtocolError?(err: Error): void;
}

/** Serves `api` on `conn`; sends hello first. Returns when the connection closes. */
export async function serveRunner(
  conn: WireConn,
  api: RunnerApi,
  hooks: ServeRunnerHooks = {},
): Promise<string> {
  // Loaded here, not at import: a CLI command that never serves a runner does not pay for it.
  const v = await import("./runner-validate.ts");
  const logStreams = new Map<number, LogStream>();
  const send = (f: RunnerFrame) => {
    try {
      conn.send(JSON.stringify(f));
    } catch {
      // The connection is closing; the close handler below ends everything.
    }
  };
  const fail = (id: number, err: unknown) => send({ t: "err", id, error: wireErrorBody(err) });
  const unary = new Set<string>(UNARY_METHODS);

  const call = async (id: number, method: string, rawArgs: unknown[]) => {
    if (!v.isCallMethod(method)) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `unknown runner method ${JSON.stringify(method.slice(0, 64))}`,
      );
    }
    const args = v.checkCallArgs(method, rawArgs);
    const progressFn = (ev: ProgressEvent) => send({ t: "out", id, ev: "progress", data: ev });
    const a = args as [never, never, never];
    let result: unknown;
    if (method === "sweep") {
      result = await api.sweep(new Set(args[0] as string[]));
    } else if (method === "logs") {
      const stream = api.logs(a[0], a[1], (chunk) => send({ t: "out", id, ev: "log", data: chunk }));
      logStreams.set(id, stream);
      stream.done.then(
        () => send({ t: "out", id, ev: "end" }),
        (err: unknown) => send({ t: "out", id, ev: "error", data: wireErrorBody(err) }),
      );
      stream.done.finally(() => logStreams.delete(id)).catch(() => {});
    } else if (method === "importImage") {
      result = await api.importImage(a[0], a[1] ?? undefined, progressFn);
    } else if (method === "ensureBaseImage") {
      result = await api.ensureBaseImage(a[0], progressFn);
    } else if (method === "pullImage") {
      result = await api.pullImage(a[0], progressFn, a[1]);
    } else if (method === "fetchFeature") {
      result = await api.fetchFeature(a[0], progressFn);
    } else if (method === "buildImage") {
      result = await api.buildImage(a[0], progressFn);
    } else if (unary.has(method)) {
      const fn = (api as unknown as Record<string, (...x: unknown[]) => Promise<unknown>>)[method];
      result = await fn?.apply(api, args);
    }
    send(result === undefined ? { t: "ok", id } : { t: "ok", id, result });
  };

  /** The only input on the control stream: a log follow's close (exec input has its own stream). */
  const input = (id: number, ev: string) => {
    if (ev === "close") logStreams.get(id)?.close();
  };

  return new Promise<string>((resolve) => {
    let closed = false;
    let lastCall = 0;
    const violation = (err: unknown) => {
      const bad =
        err instanceof v.WireViolation
          ? err
          : new v.WireViolation(`frame handler failed: ${(err as Error)?.message}`, WIRE_CLOSE.internal);
      closed = true;
      hooks.onProtocolError?.(bad);
      conn.close(bad.code, `bad frame: ${bad.message}`);
    };
    conn.onMessage((text) => {
      if (closed) return; // frames after close are not read
      try {
        const f = v.parseServerFrame(text);
        if (f.t === "welcome") hooks.onWelcome?.(f.runnerId);
        else if (f.t === "call") {
          // The control plane numbers its calls upwards: a repeat would answer one call twice.
          if (f.id <= lastCall) throw new v.WireViolation(`call id ${f.id} repeats or goes backwards`);
          lastCall = f.id;
          call(f.id, f.method, f.args).catch((e) => fail(f.id, e));
        } else if (f.t === "in") {
          v.checkIn(f.ev, f.data);
          input(f.id, f.ev);
        }
      } catch (err) {
        violation(err);
      }
    });
    conn.onClose((reason) => {
      closed = true;
      // The control plane went away: end every open stream it can no longer read.
      for (const s of logStreams.values()) s.close();
      logStreams.clear();
      resolve(reason);
    });
    api.info().then(
      (info) => send({ t: "hello", version: RUNNER_WIRE_VERSION, info }),
      (err: unknown) => {
        hooks.onProtocolError?.(err as Error);
        conn.close(1011, "runner info failed");
      },
    );
  });
}
