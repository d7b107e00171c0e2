// The control plane's end of one runner connection (protocol runner-wire.ts): a RunnerApi whose
// every call becomes a "call" frame. When the link drops, every call in flight fails with
// RUNNER_UNAVAILABLE; the reconcile queue's backoff retries them once a runner is back, and since
// each call carries the full desired spec, the retry converges whatever the runner had done.
import {
  type EnvObserved,
  type ErrorBody,
  type ExecHandlers,
  type ExecRequest,
  type ExecSession,
  fromBase64,
  type InEvent,
  type LogStream,
  type OutEvent,
  type ProgressEvent,
  type ProgressFn,
  parseWireFrame,
  type RunnerApi,
  type RunnerFrame,
  type RunnerInfo,
  type ServerFrame,
  toBase64,
  WarrenError,
  type WireConn,
  type WireMethod,
} from "@warren/protocol";

const INFO_TTL_MS = 1000;

interface Pending {
  method: WireMethod;
  resolve(v: unknown): void;
  reject(e: Error): void;
  /** Events within the call (progress, exec output, log chunks). */
  onOut?(ev: OutEvent, data: unknown): void;
  /** Open exec/log calls outlive their "ok"; they end on exit/end/error. */
  streaming?: boolean;
}

export class RemoteRunner implements RunnerApi {
  readonly runnerId: string;
  readonly infoAtHello: RunnerInfo;
  private readonly conn: WireConn;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closedReason: string | undefined;
  private readonly closeListeners: ((reason: string) => void)[] = [];

  constructor(conn: WireConn, runnerId: string, info: RunnerInfo) {
    this.conn = conn;
    this.runnerId = runnerId;
    this.infoAtHello = info;
    conn.onMessage((text) => this.receive(text));
    conn.onClose((reason) => this.closed(reason));
  }

  /** Tells the runner it is serving (after the hub swept it and can route to it). */
  welcome(): void {
    this.send({ t: "welcome", runnerId: this.runnerId });
  }

  get connected(): boolean {
    return this.closedReason === undefined;
  }

  onClose(cb: (reason: string) => void): void {
    this.closeListeners.push(cb);
  }

  close(reason = "control plane closing"): void {
    this.conn.close(1001, reason);
    this.closed(reason);
  }

  private send(f: ServerFrame): void {
    this.conn.send(JSON.stringify(f));
  }

  private receive(text: string): void {
    let f: RunnerFrame;
    try {
      f = parseWireFrame<RunnerFrame>(text);
    } catch (err) {
      this.conn.close(1002, `bad frame: ${(err as Error).message}`.slice(0, 120));
      return;
    }
    if (f.t === "hello") return; // only the first one matters; the hub consumed it
    const p = this.pending.get(f.id);
    if (!p) return; // a late frame of a call that already ended
    if (f.t === "ok") {
      if (!p.streaming) this.pending.delete(f.id);
      p.resolve(f.result);
    } else if (f.t === "err") {
      this.pending.delete(f.id);
      p.reject(WarrenError.fromBody(f.error));
    } else if (f.t === "out") {
      if (f.ev === "exit" || f.ev === "end" || f.ev === "error") this.pending.delete(f.id);
      p.onOut?.(f.ev, f.data);
    }
  }

  private closed(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    const err = new WarrenError(
      "RUNNER_UNAVAILABLE",
      `runner ${this.runnerId} disconnected (${reason}); the call is retried when a runner is back`,
      { runnerId: this.runnerId },
    );
    for (const p of this.pending.values()) {
      if (p.streaming) p.onOut?.("error", err.toBody());
      p.reject(err);
    }
    this.pending.clear();
    for (const cb of this.closeListeners) cb(reason);
  }

  private call<T>(
    method: WireMethod,
    args: unknown[],
    extra: Partial<Pending> = {},
  ): Promise<T> & { id: number } {
    const id = this.nextId++;
    const promise = new Promise<T>((resolve, reject) => {
      if (this.closedReason !== undefined) {
        reject(new WarrenError("RUNNER_UNAVAILABLE", `runner ${this.runnerId} is not connected`));
        return;
      }
      this.pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject, ...extra });
      try {
        this.send({ t: "call", id, method, args });
      } catch (err) {
        this.pending.delete(id);
        reject(err as Error);
      }
    });
    return Object.assign(promise, { id });
  }

  private input(id: number, ev: InEvent, data?: unknown): void {
    if (this.closedReason !== undefined) return;
    try {
      this.send(data === undefined ? { t: "in", id, ev } : { t: "in", id, ev, data });
    } catch {}
  }

  private withProgress<T>(method: WireMethod, args: unknown[], progress: ProgressFn): Promise<T> {
    return this.call<T>(method, args, {
      onOut: (ev, data) => ev === "progress" && progress(data as ProgressEvent),
    });
  }

  /**
   * Admission asks for the runner's info on every create; a second-old answer is as good (free
   * disk moves slowly, and reserved disk is counted in the store), so concurrent and back-to-back
   * creates share one round trip.
   */
  info = (): Promise<RunnerInfo> => {
    const now = Date.now();
    if (this.infoCache && now - this.infoCache.at < INFO_TTL_MS) return this.infoCache.value;
    const value = this.call<RunnerInfo>("info", []);
    this.infoCache = { at: now, value };
    value.catch(() => {
      if (this.infoCache?.value === value) this.infoCache = undefined;
    });
    return value;
  };
  private infoCache: { at: number; value: Promise<RunnerInfo> } | undefined;
  ensureRunning = (spec: Parameters<RunnerApi["ensureRunning"]>[0]) =>
    this.call<EnvObserved>("ensureRunning", [spec]);
  ensureStopped = (spec: Parameters<RunnerApi["ensureStopped"]>[0], graceMs: number) =>
    this.call<EnvObserved>("ensureStopped", [spec, graceMs]);
  remove = (id: string) => this.call<void>("remove", [id]);
  observe = (id: string) => this.call<EnvObserved>("observe", [id]);
  list = () => this.call<EnvObserved[]>("list", []);
  sweep = (keep: Set<string>) => this.call<string[]>("sweep", [[...keep]]);
  appendEvent = (id: string, message: string) => this.call<void>("appendEvent", [id, message]);
  listImages: RunnerApi["listImages"] = () => this.call("listImages", []);
  hasImage = (ref: string) => this.call<boolean>("hasImage", [ref]);
  removeImage = (ref: string) => this.call<string[]>("removeImage", [ref]);
  pruneImages: RunnerApi["pruneImages"] = (opts) => this.call("pruneImages", opts ? [opts] : []);
  setResources: RunnerApi["setResources"] = (spec) => this.call("setResources", [spec]);
  stats: RunnerApi["stats"] = (id) => this.call("stats", [id]);
  dnsStats: RunnerApi["dnsStats"] = () => this.call("dnsStats", []);
  importImage: RunnerApi["importImage"] = (p, ref, progress) =>
    this.withProgress("importImage", [p, ref], progress);
  ensureBaseImage: RunnerApi["ensureBaseImage"] = (opts, progress) =>
    this.withProgress("ensureBaseImage", [opts], progress);
  pullImage: RunnerApi["pullImage"] = (ref, progress, opts) =>
    this.withProgress("pullImage", opts === undefined ? [ref] : [ref, opts], progress);

  async exec(id: string, req: ExecRequest, h: ExecHandlers): Promise<ExecSession> {
    const started = this.call<void>("exec", [id, req], {
      streaming: true,
      onOut: (ev, data) => {
        if (ev === "stdout") h.stdout(fromBase64(data));
        else if (ev === "stderr") h.stderr(fromBase64(data));
        else if (ev === "exit") h.exit(Number(data));
        else if (ev === "error") {
          const err = WarrenError.fromBody(data as ErrorBody);
          if (h.error) h.error(err);
          else h.exit(125);
        }
      },
    });
    const callId = started.id;
    await started;
    return {
      stdin: (d) => this.input(callId, "stdin", toBase64(d)),
      endStdin: () => this.input(callId, "endStdin"),
      resize: (cols, rows) => this.input(callId, "resize", { cols, rows }),
      signal: (sig) => this.input(callId, "signal", sig),
      pause: () => this.input(callId, "pause"),
      resume: () => this.input(callId, "resume"),
    };
  }

  logs(id: string, opts: { follow: boolean; tail?: number }, onData: (chunk: string) => void): LogStream {
    let callId = 0;
    const done = new Promise<void>((resolve, reject) => {
      const c = this.call<void>("logs", [id, opts], {
        streaming: true,
        onOut: (ev, data) => {
          if (ev === "log") onData(String(data));
          else if (ev === "end") resolve();
          else if (ev === "error") reject(WarrenError.fromBody(data as ErrorBody));
        },
      });
      callId = c.id;
      c.catch(reject);
    });
    return { done, close: () => this.input(callId, "close") };
  }
}
