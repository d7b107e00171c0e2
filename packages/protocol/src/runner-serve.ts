// The runner's end of the wire protocol (runner-wire.ts): answers the control plane's calls with
// any RunnerApi (the real host runner, or a fake one in tests and bench/api). Each call runs
// independently; a failure becomes an "err" frame carrying the catalog error, never a dropped link.
//
// The control plane is checked too (runner-validate.ts): a frame that breaks the protocol, a call id
// that repeats or goes backwards, bad input to an open session, or a throw while handling a frame
// closes the link with a reason (the runner reconnects). Unknown methods and arguments that do not
// fit a method fail that one call with INVALID_ARGUMENT, which is what a version skew looks like.
import { constants } from "node:os";
import { type ErrorBody, WarrenError } from "./errors.ts";
import { flowGate } from "./flow-control.ts";
import type { ExecRequest, ExecSession, LogStream, ProgressEvent, RunnerApi } from "./runner.ts";
import {
  fromBase64,
  WIRE_LIMITS as LIMITS,
  type RunnerFrame,
  toBase64,
  UNARY_METHODS,
  WIRE_CLOSE,
  type WireConn,
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
  const sessions = new Map<number, ExecSession>();
  const logStreams = new Map<number, LogStream>();
  const holds = new Map<number, (reason: "link" | "peer", on: boolean) => void>();
  const send = (f: RunnerFrame) => {
    try {
      conn.send(JSON.stringify(f));
    } catch {
      // The connection is closing; the close handler below ends everything.
    }
  };
  const fail = (id: number, err: unknown) => send({ t: "err", id, error: errorBody(err) });
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
    } else if (method === "exec") {
      // Paused while this link is backed up OR the control plane asks (its client is slow).
      const why = new Set<"link" | "peer">();
      const hold = (reason: "link" | "peer", on: boolean) => {
        const before = why.size;
        if (on) why.add(reason);
        else why.delete(reason);
        const s = sessions.get(id);
        if (before === 0 && why.size > 0) s?.pause?.();
        if (before > 0 && why.size === 0) s?.resume?.();
      };
      const gate = flowGate();
      gate.source({ pause: () => hold("link", true), resume: () => hold("link", false) });
      holds.set(id, hold);
      const out = (ev: "stdout" | "stderr", d: Uint8Array) => {
        const text = JSON.stringify({ t: "out", id, ev, data: toBase64(d) } satisfies RunnerFrame);
        gate.send(text.length, (done) => {
          try {
            conn.send(text, done);
          } catch {
            done();
          }
        });
      };
      const session = await api.exec(a[0], a[1] as ExecRequest, {
        stdout: (d) => out("stdout", d),
        stderr: (d) => out("stderr", d),
        exit: (code) => {
          sessions.delete(id);
          holds.delete(id);
          send({ t: "out", id, ev: "exit", data: code });
        },
        error: (err) => {
          sessions.delete(id);
          holds.delete(id);
          send({ t: "out", id, ev: "error", data: errorBody(err) });
        },
      });
      sessions.set(id, session);
      if (why.size > 0) session.pause?.(); // backed up before the session was registered
    } else if (method === "logs") {
      const stream = api.logs(a[0], a[1], (chunk) => send({ t: "out", id, ev: "log", data: chunk }));
      logStreams.set(id, stream);
      stream.done.then(
        () => send({ t: "out", id, ev: "end" }),
        (err: unknown) => send({ t: "out", id, ev: "error", data: errorBody(err) }),
      );
      stream.done.finally(() => logStreams.delete(id)).catch(() => {});
    } else if (method === "importImage") {
      result = await api.importImage(a[0], a[1] ?? undefined, progressFn);
    } else if (method === "ensureBaseImage") {
      result = await api.ensureBaseImage(a[0], progressFn);
    } else if (method === "pullImage") {
      result = await api.pullImage(a[0], progressFn, a[1]);
    } else if (unary.has(method)) {
      const fn = (api as unknown as Record<string, (...x: unknown[]) => Promise<unknown>>)[method];
      result = await fn?.apply(api, args);
    }
    send(result === undefined ? { t: "ok", id } : { t: "ok", id, result });
  };

  const input = (id: number, ev: string, data: unknown) => {
    if (ev === "close") {
      logStreams.get(id)?.close();
      return;
    }
    const s = sessions.get(id);
    if (!s) return; // the session ended first; late input is dropped
    if (ev === "stdin") s.stdin(fromBase64(data));
    else if (ev === "endStdin") s.endStdin();
    else if (ev === "resize") {
      const d = data as { cols: number; rows: number };
      s.resize(d.cols, d.rows);
    } else if (ev === "signal") {
      if (Object.hasOwn(constants.signals, data as string)) s.signal(data as NodeJS.Signals);
    } else if (ev === "pause") holds.get(id)?.("peer", true);
    else if (ev === "resume") holds.get(id)?.("peer", false);
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
        } else if (f.t === "in") input(f.id, f.ev, v.checkIn(f.ev, f.data));
      } catch (err) {
        violation(err);
      }
    });
    conn.onClose((reason) => {
      closed = true;
      // The control plane went away: end every open stream it can no longer read.
      for (const s of logStreams.values()) s.close();
      logStreams.clear();
      // As sshd does when a client vanishes: the session's processes get SIGHUP.
      for (const s of sessions.values()) s.signal("SIGHUP");
      sessions.clear();
      holds.clear();
      resolve(reason);
    });
    api.info().then(
      (info) => send({ t: "hello", version: 1, info }),
      (err: unknown) => {
        hooks.onProtocolError?.(err as Error);
        conn.close(1011, "runner info failed");
      },
    );
  });
}

/** A catalog error as the wire carries it, cut to the sizes the control plane accepts. */
function errorBody(err: unknown): ErrorBody {
  const body: ErrorBody =
    err instanceof WarrenError
      ? err.toBody()
      : { code: "INTERNAL", message: err instanceof Error ? err.message : String(err) };
  body.message = body.message.slice(0, LIMITS.message);
  if (body.details) {
    const kept = Object.entries(body.details).filter(([k]) => k.length <= LIMITS.id);
    body.details = Object.fromEntries(kept.slice(0, 64));
  }
  return body;
}
