// The control plane's end of one runner connection (protocol runner-wire.ts): a RunnerApi whose
// calls become "call" frames on the link's control stream, and whose exec and dial each open a
// stream of their own (protocol streams/). When the link drops, every call in flight fails with
// RUNNER_UNAVAILABLE; the reconcile queue's backoff retries them once a runner is back, and since
// each call carries the full desired spec, the retry converges whatever the runner had done.
import {
  type EnvObserved,
  type ExecHandlers,
  type ExecRequest,
  type ExecSession,
  type InEvent,
  type LogStream,
  type OutEvent,
  type ProgressEvent,
  type ProgressFn,
  type RunnerApi,
  type RunnerInfo,
  type ServerFrame,
  WarrenError,
  WIRE_CLOSE,
  type WireConn,
  type WireMethod,
} from "@warren/protocol";
import {
  checkOut,
  checkResult,
  errorFromWire,
  parseRunnerFrame,
  WireViolation,
} from "@warren/protocol/runner-validate";
import { dialOverStream, execOverStream, type StreamClient } from "@warren/protocol/streams";

const INFO_TTL_MS = 1000;

interface Pending {
  method: WireMethod;
  resolve(v: unknown): void;
  reject(e: Error): void;
  /** Events within the call (progress, exec output, log chunks). */
  onOut?(ev: OutEvent, data: unknown): void;
  /** Open exec/log calls outlive their "ok"; they end on exit/end/error. */
  streaming?: boolean;
  /** A result about one environment must be about that one (an id check); throws WireViolation. */
  about?: string;
  /** Its "ok" arrived (a stream has started). */
  started?: boolean;
  /** A stream's one exit/end/error arrived. */
  ended?: boolean;
}

export class RemoteRunner implements RunnerApi {
  readonly runnerId: string;
  readonly infoAtHello: RunnerInfo;
  private readonly conn: WireConn;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closedReason: string | undefined;
  private readonly closeListeners: ((reason: string) => void)[] = [];

  private readonly streams: StreamClient | undefined;

  /** `streams` is the link's stream transport; without it (tests of the control frames) exec and dial fail. */
  constructor(conn: WireConn, runnerId: string, info: RunnerInfo, streams?: StreamClient) {
    this.conn = conn;
    this.streams = streams;
    this.runnerId = runnerId;
    // The id is the one this server gave it (its token's), never the one it reports: admission
    // counts slots and disk per runner id, and a runner must not spend another runner's capacity.
    this.infoAtHello = { ...info, id: runnerId };
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

  close(reason = "control plane closing", code: number = WIRE_CLOSE.goingAway): void {
    this.conn.close(code, reason);
    this.closed(reason);
  }

  private send(f: ServerFrame): void {
    this.conn.send(JSON.stringify(f));
  }

  private receive(text: string): void {
    if (this.closedReason !== undefined) return; // frames after close are not read
    try {
      this.handle(text);
    } catch (err) {
      const v =
        err instanceof WireViolation
          ? err
          : new WireViolation(`frame handler failed: ${(err as Error)?.message}`, WIRE_CLOSE.internal);
      this.violation(v);
    }
  }

  /** Drops this link: the peer broke the protocol, or handling its frame failed. */
  private violation(v: WireViolation): void {
    const reason = `bad frame: ${v.message}`;
    this.conn.close(v.code, reason);
    this.closed(reason);
  }

  private handle(text: string): void {
    const f = parseRunnerFrame(text);
    if (f.t === "hello") throw new WireViolation("a second hello");
    if (f.id >= this.nextId) throw new WireViolation(`answer to call ${f.id}, which was never made`);
    const p = this.pending.get(f.id);
    if (!p) return; // a late frame of a call that already ended
    const method = p.method;
    if (f.t === "ok") {
      const result = checkResult(method, f.result);
      if (p.about !== undefined && (result as { id?: unknown }).id !== p.about) {
        throw new WireViolation(`${method} answered about another environment than ${p.about}`);
      }
      p.started = true;
      // A stream that already ended (its end raced its "ok") is done with both.
      if (!p.streaming || p.ended) this.pending.delete(f.id);
      p.resolve(result);
    } else if (f.t === "err") {
      this.pending.delete(f.id);
      const err = errorFromWire(f.error);
      // After its start, a stream ends with exactly one exit/end/error: this is its error.
      if (p.streaming && p.started && !p.ended) p.onOut?.("error", f.error);
      p.reject(err);
    } else if (f.t === "out") {
      const data = checkOut(method, f.ev, f.data);
      if (p.ended) return; // one end per stream; anything after it is dropped
      if (f.ev === "end" || f.ev === "error") {
        p.ended = true;
        // Kept until its "ok" too, so the call itself cannot be left unsettled.
        if (p.started) this.pending.delete(f.id);
      }
      p.onOut?.(f.ev, data);
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
      if (p.streaming && !p.ended) p.onOut?.("error", err.toBody());
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
    const value = this.call<RunnerInfo>("info", []).then((info) => ({ ...info, id: this.runnerId }));
    this.infoCache = { at: now, value };
    value.catch(() => {
      if (this.infoCache?.value === value) this.infoCache = undefined;
    });
    return value;
  };
  private infoCache: { at: number; value: Promise<RunnerInfo> } | undefined;
  ensureRunning = (spec: Parameters<RunnerApi["ensureRunning"]>[0]) =>
    this.call<EnvObserved>("ensureRunning", [spec], { about: spec.id });
  ensureStopped = (spec: Parameters<RunnerApi["ensureStopped"]>[0], graceMs: number) =>
    this.call<EnvObserved>("ensureStopped", [spec, graceMs], { about: spec.id });
  remove = async (id: string) => {
    await this.call<unknown>("remove", [id]);
  };
  observe = (id: string) => this.call<EnvObserved>("observe", [id], { about: id });
  list = () => this.call<EnvObserved[]>("list", []);
  /** The ids it swept; one it was told to keep is a lie and is left out. */
  sweep = async (keep: Set<string>) =>
    (await this.call<string[]>("sweep", [[...keep]])).filter((id) => !keep.has(id));
  appendEvent = async (id: string, message: string) => {
    await this.call<unknown>("appendEvent", [id, message]);
  };
  listImages: RunnerApi["listImages"] = () => this.call("listImages", []);
  hasImage = (ref: string) => this.call<boolean>("hasImage", [ref]);
  removeImage = (ref: string) => this.call<string[]>("removeImage", [ref]);
  pruneImages: RunnerApi["pruneImages"] = (opts) => this.call("pruneImages", opts ? [opts] : []);
  setResources: RunnerApi["setResources"] = (spec) => this.call("setResources", [spec], { about: spec.id });
  stats: RunnerApi["stats"] = (id) => this.call("stats", [id], { about: id });
  dnsStats: RunnerApi["dnsStats"] = () => this.call("dnsStats", []);
  listPorts: RunnerApi["listPorts"] = (id) => this.call("listPorts", [id]);
  importImage: RunnerApi["importImage"] = (p, ref, progress) =>
    this.withProgress("importImage", [p, ref], progress);
  ensureBaseImage: RunnerApi["ensureBaseImage"] = (opts, progress) =>
    this.withProgress("ensureBaseImage", [opts], progress);
  pullImage: RunnerApi["pullImage"] = (ref, progress, opts) =>
    this.withProgress("pullImage", opts === undefined ? [ref] : [ref, opts], progress);
  fetchFeature: RunnerApi["fetchFeature"] = (req, progress) =>
    this.withProgress("fetchFeature", [req], progress);
  buildImage: RunnerApi["buildImage"] = (req, progress) => this.withProgress("buildImage", [req], progress);
  imageLabels: RunnerApi["imageLabels"] = (ref) => this.call("imageLabels", [ref]);
  saveTemplate: RunnerApi["saveTemplate"] = (envId, key) =>
    this.call("saveTemplate", [envId, key], { about: envId });
  removeTemplate: RunnerApi["removeTemplate"] = async (key) => {
    await this.call<unknown>("removeTemplate", [key]);
  };

  private linkFor(what: string): StreamClient {
    if (this.closedReason !== undefined || !this.streams)
      throw new WarrenError("RUNNER_UNAVAILABLE", `runner ${this.runnerId} is not connected (${what})`);
    return this.streams;
  }

  private gone = () =>
    new WarrenError(
      "RUNNER_UNAVAILABLE",
      `runner ${this.runnerId} disconnected (${this.closedReason ?? "its stream closed"})`,
      { runnerId: this.runnerId },
    );

  dial: RunnerApi["dial"] = (id, port, host) => dialOverStream(this.linkFor("dial"), id, port, host);

  async exec(id: string, req: ExecRequest, h: ExecHandlers): Promise<ExecSession> {
    const stream = await this.linkFor("exec").openStream("exec");
    return execOverStream(stream, id, req, h, this.gone);
  }

  logs(id: string, opts: { follow: boolean; tail?: number }, onData: (chunk: string) => void): LogStream {
    let callId = 0;
    const done = new Promise<void>((resolve, reject) => {
      const c = this.call<unknown>("logs", [id, opts], {
        streaming: true,
        onOut: (ev, data) => {
          if (ev === "log") onData(String(data));
          else if (ev === "end") resolve();
          else if (ev === "error") reject(errorFromWire(data));
        },
      });
      callId = c.id;
      c.catch(reject);
    });
    return { done, close: () => this.input(callId, "close") };
  }
}
