// A small JSON Schema checker for the subset TypeBox emits in our schemas (and the OpenAPI
// document's local $refs). Deliberately strict: an unknown keyword throws, so a schema using
// something this does not check can never pass by accident.
type Json = Record<string, unknown>;

const ANNOTATIONS = new Set(["description", "title", "format", "default", "examples"]);
const CHECKED = new Set([
  "$ref",
  "type",
  "properties",
  "required",
  "additionalProperties",
  "patternProperties",
  "items",
  "enum",
  "const",
  "anyOf",
  "allOf",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "minLength",
  "maxLength",
  "pattern",
]);

/** Every way `value` breaks `schema`, as "path: reason" strings; [] when it conforms. */
export function check(schema: unknown, value: unknown, root: unknown, at = "$"): string[] {
  if (schema === true || schema === undefined) return [];
  if (schema === false) return [`${at}: not allowed`];
  const s = schema as Json;
  for (const k of Object.keys(s)) {
    if (!CHECKED.has(k) && !ANNOTATIONS.has(k) && !k.startsWith("x-")) {
      throw new Error(`json-schema-check: unsupported keyword "${k}" at ${at}`);
    }
  }
  const out: string[] = [];
  if (typeof s["$ref"] === "string") out.push(...check(resolveRef(root, s["$ref"]), value, root, at));
  if (s["type"] !== undefined) {
    const types = Array.isArray(s["type"]) ? (s["type"] as string[]) : [s["type"] as string];
    if (!types.some((t) => isType(t, value))) return [...out, `${at}: expected ${types.join("|")}`];
  }
  if ("const" in s && JSON.stringify(s["const"]) !== JSON.stringify(value)) {
    out.push(`${at}: expected ${JSON.stringify(s["const"])}`);
  }
  if (Array.isArray(s["enum"]) && !s["enum"].some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    out.push(`${at}: not one of ${JSON.stringify(s["enum"])}`);
  }
  if (Array.isArray(s["anyOf"]) && !s["anyOf"].some((alt) => check(alt, value, root, at).length === 0)) {
    out.push(`${at}: matches no anyOf branch`);
  }
  for (const sub of (s["allOf"] as unknown[] | undefined) ?? []) out.push(...check(sub, value, root, at));
  if (typeof value === "number") {
    if (typeof s["minimum"] === "number" && value < s["minimum"]) out.push(`${at}: below minimum`);
    if (typeof s["maximum"] === "number" && value > s["maximum"]) out.push(`${at}: above maximum`);
    if (typeof s["exclusiveMinimum"] === "number" && value <= s["exclusiveMinimum"]) {
      out.push(`${at}: not above exclusiveMinimum`);
    }
  }
  if (typeof value === "string") {
    if (typeof s["minLength"] === "number" && value.length < s["minLength"]) out.push(`${at}: too short`);
    if (typeof s["maxLength"] === "number" && value.length > s["maxLength"]) out.push(`${at}: too long`);
    if (typeof s["pattern"] === "string" && !new RegExp(s["pattern"], "u").test(value)) {
      out.push(`${at}: does not match ${s["pattern"]}`);
    }
  }
  if (Array.isArray(value) && s["items"] !== undefined) {
    value.forEach((v, i) => {
      out.push(...check(s["items"], v, root, `${at}[${i}]`));
    });
  }
  if (isType("object", value)) out.push(...checkObject(s, value as Json, root, at));
  return out;
}

function checkObject(s: Json, value: Json, root: unknown, at: string): string[] {
  const out: string[] = [];
  const props = (s["properties"] ?? {}) as Record<string, unknown>;
  for (const r of (s["required"] as string[] | undefined) ?? []) {
    if (!(r in value)) out.push(`${at}.${r}: required`);
  }
  const patterns = Object.entries((s["patternProperties"] ?? {}) as Record<string, unknown>);
  for (const [k, v] of Object.entries(value)) {
    if (k in props) {
      out.push(...check(props[k], v, root, `${at}.${k}`));
      continue;
    }
    const matching = patterns.filter(([p]) => new RegExp(p, "u").test(k));
    for (const [, ps] of matching) out.push(...check(ps, v, root, `${at}.${k}`));
    if (matching.length === 0 && s["additionalProperties"] !== undefined) {
      out.push(...check(s["additionalProperties"], v, root, `${at}.${k}`));
    }
  }
  return out;
}

function isType(t: string, v: unknown): boolean {
  switch (t) {
    case "object":
      return typeof v === "object" && v !== null && !Array.isArray(v);
    case "array":
      return Array.isArray(v);
    case "integer":
      return Number.isInteger(v);
    case "null":
      return v === null;
    default:
      return typeof v === t;
  }
}

/** A local JSON pointer ("#/components/schemas/X"); throws if it does not resolve. */
export function resolveRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith("#/")) throw new Error(`only local $refs are supported: ${ref}`);
  let node: unknown = root;
  for (const part of ref.slice(2).split("/")) {
    const key = part.replaceAll("~1", "/").replaceAll("~0", "~");
    if (node === null || typeof node !== "object" || !(key in node))
      throw new Error(`unresolved $ref ${ref}`);
    node = (node as Json)[key];
  }
  return node;
}
