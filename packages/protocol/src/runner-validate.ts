// Checks runner-wire frames against runner-schema.ts before either end uses them. A frame that
// fails is a WireViolation: the receiving end closes that one connection with the violation's
// WebSocket close code and a reason naming what was wrong (never echoing the peer's bytes back), and
// nothing else is affected. Payloads that pass are cleaned of fields the schema does not name, so
// nothing unchecked travels further into the control plane or the runner.
//
// Compiled (TypeBox's TypeCompiler) on first use: loading and compiling costs tens of
// milliseconds, which a CLI command that never speaks the runner protocol must not pay.
import type { Static, TSchema } from "@sinclair/typebox";
import { type TypeCheck, TypeCompiler } from "@sinclair/typebox/compiler";
import { Value } from "@sinclair/typebox/value";
import { ERROR_CATALOG, type ErrorBody, type ErrorCode, WarrenError } from "./errors.ts";
import type { RunnerInfo } from "./runner.ts";
import {
  CALL_ARGS,
  CALL_RESULTS,
  type CallMethod,
  ErrorBodySchema,
  IN_EVENTS,
  OUT_EVENTS,
  RUNNER_FRAMES,
  RunnerInfoSchema,
  SERVER_FRAMES,
} from "./runner-schema.ts";
import {
  type InEvent,
  MAX_WIRE_FRAME,
  type OutEvent,
  PROGRESS_METHODS,
  type RunnerFrame,
  type ServerFrame,
  WIRE_CLOSE,
  type WireMethod,
} from "./runner-wire.ts";

/** A frame the peer should never have sent; `code` is the WebSocket close code to answer with. */
export class WireViolation extends Error {
  readonly code: number;
  constructor(message: string, code: number = WIRE_CLOSE.protocol) {
    super(message);
    this.name = "WireViolation";
    this.code = code;
  }
}

const compiled = new Map<TSchema, TypeCheck<TSchema>>();
function checker(schema: TSchema): TypeCheck<TSchema> {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c;
}

/** The value, cleaned of unnamed fields, or a WireViolation saying where it went wrong. */
export function checkWire<T extends TSchema>(schema: T, value: unknown, what: string): Static<T> {
  const c = checker(schema);
  if (c.Check(value)) return Value.Clean(schema, value) as Static<T>;
  const first = c.Errors(value).First();
  const where = first?.path ? ` at ${first.path}` : "";
  throw new WireViolation(`${what}${where}: ${first?.message ?? "does not match the protocol"}`);
}

function parseJson(text: unknown): Record<string, unknown> {
  if (typeof text !== "string")
    throw new WireViolation("a control frame must be text", WIRE_CLOSE.unsupported);
  if (text.length > MAX_WIRE_FRAME) {
    throw new WireViolation(`frame of ${text.length} bytes exceeds ${MAX_WIRE_FRAME}`, WIRE_CLOSE.tooBig);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the input: say what is wrong without echoing it.
    throw new WireViolation("frame is not valid JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new WireViolation("frame is not a JSON object");
  return v as Record<string, unknown>;
}

function envelope<F>(table: Record<string, TSchema>, text: unknown): F {
  const v = parseJson(text);
  const t = v["t"];
  const schema = typeof t === "string" && Object.hasOwn(table, t) ? table[t] : undefined;
  if (!schema) {
    throw new WireViolation(`unknown frame type; expected one of ${Object.keys(table).join(", ")}`);
  }
  return checkWire(schema, v, `${t} frame`) as F;
}

/** A runner → control plane frame, envelope checked (payloads: checkResult, checkOut, checkHelloInfo). */
export const parseRunnerFrame = (text: unknown): RunnerFrame => envelope<RunnerFrame>(RUNNER_FRAMES, text);
/** A control plane → runner frame, envelope checked (payloads: checkCallArgs, checkIn). */
export const parseServerFrame = (text: unknown): ServerFrame => envelope<ServerFrame>(SERVER_FRAMES, text);

export const checkHelloInfo = (info: unknown): RunnerInfo => checkWire(RunnerInfoSchema, info, "hello.info");

export const isCallMethod = (m: string): m is CallMethod & WireMethod => Object.hasOwn(CALL_ARGS, m);

/** Arguments of a call; a WarrenError (the call fails, the link stays) when they do not fit. */
export function checkCallArgs(method: CallMethod, args: unknown[]): unknown[] {
  try {
    return checkWire(CALL_ARGS[method], args, `${method} arguments`) as unknown[];
  } catch (err) {
    throw new WarrenError("INVALID_ARGUMENT", (err as Error).message, { method });
  }
}

export function checkResult(method: CallMethod, result: unknown): unknown {
  return checkWire(CALL_RESULTS[method], result, `${method} result`);
}

const progressMethods = new Set<string>(PROGRESS_METHODS);
/** Data of an "out" event, which must be one the call's kind can carry. */
export function checkOut(method: CallMethod, ev: OutEvent, data: unknown): unknown {
  const table: Record<string, TSchema> =
    method === "logs" ? OUT_EVENTS.logs : progressMethods.has(method) ? OUT_EVENTS.progress : {};
  const schema = Object.hasOwn(table, ev) ? table[ev] : undefined;
  if (!schema) throw new WireViolation(`a ${method} call has no "${ev}" events`);
  return checkWire(schema, data, `${method} ${ev} event`);
}

export function checkIn(ev: InEvent, data: unknown): unknown {
  return checkWire(IN_EVENTS[ev], data, `${ev} input`);
}

/** An error body from the peer; a code this end does not know becomes INTERNAL. */
export function errorFromWire(body: unknown): WarrenError {
  const b = checkWire(ErrorBodySchema, body, "error body") as ErrorBody;
  const code: ErrorCode = Object.hasOwn(ERROR_CATALOG, b.code) ? b.code : "INTERNAL";
  return new WarrenError(code, b.message, b.details);
}
