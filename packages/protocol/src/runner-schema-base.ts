// The bounded primitives every runner-wire schema is made of (runner-schema.ts): each string,
// array and number has a ceiling, so a peer cannot make the other end allocate more than a frame.
import { Type } from "@sinclair/typebox";
import { WIRE_LIMITS as LIMITS } from "./runner-wire.ts";

export const Id = Type.String({ minLength: 1, maxLength: LIMITS.id });
export const Ref = Type.String({ maxLength: LIMITS.ref });
export const Message = Type.String({ maxLength: LIMITS.message });
export const Time = Type.String({ maxLength: 64 });
/** Counts, bytes, sizes: finite (TypeBox refuses NaN and Infinity) and not negative. */
export const Count = Type.Number({ minimum: 0 });
export const lit = <const T extends string>(values: readonly T[]) =>
  Type.Union(values.map((v) => Type.Literal(v)));
export const Runtime = lit(["runc", "crun", "gvisor"]);
export const NumOrNull = Type.Union([Type.Number(), Type.Null()]);
export const IdRange = Type.Object({ start: Count, size: Count });

export const ResourcesSchema = Type.Object({
  cpus: Count,
  memoryBytes: Count,
  diskBytes: Count,
  pids: Count,
});
export const Psi = Type.Object({ cpu: NumOrNull, memory: NumOrNull, io: NumOrNull });
