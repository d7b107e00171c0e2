// Small type checkers over the JSONC tree. Each failure names the file:line:column of the value,
// its JSON path, what was expected and an example of a valid value.
import { describeNode, type Locator, type Node, pathKey } from "./jsonc-tree.ts";

export interface CheckContext {
  loc: Locator;
  warnings: string[];
}

export type Check = (node: Node, path: string, cx: CheckContext) => void;

function fail(cx: CheckContext, node: Node, path: string, expected: string, example?: string): never {
  const hint = example ? ` (for example ${example})` : "";
  throw cx.loc.error(node.offset, path, `expected ${expected}, got ${describeNode(node)}${hint}`);
}

export const str =
  (example?: string): Check =>
  (n, p, cx) => {
    if (n.type !== "string") fail(cx, n, p, "a string", example);
  };

export const nonEmptyStr =
  (example?: string): Check =>
  (n, p, cx) => {
    if (n.type !== "string") fail(cx, n, p, "a string", example);
    if (n.value === "")
      throw cx.loc.error(n.offset, p, `must not be empty${example ? ` (e.g. ${example})` : ""}`);
  };

export const bool: Check = (n, p, cx) => {
  if (n.type !== "boolean") fail(cx, n, p, "true or false");
};

export const int =
  (min: number, max: number, example?: string): Check =>
  (n, p, cx) => {
    if (n.type !== "number" || !Number.isInteger(n.value)) fail(cx, n, p, "a whole number", example);
    if (n.value < min || n.value > max) {
      throw cx.loc.error(n.offset, p, `${n.value} is out of range; use ${min} to ${max}`);
    }
  };

export const enumOf =
  (values: readonly string[]): Check =>
  (n, p, cx) => {
    if (n.type !== "string" || !values.includes(n.value)) {
      const got = n.type === "string" ? JSON.stringify(n.value) : describeNode(n);
      throw cx.loc.error(
        n.offset,
        p,
        `expected one of ${values.map((v) => `"${v}"`).join(", ")}, got ${got}`,
      );
    }
  };

export const pattern =
  (re: RegExp, what: string, example: string): Check =>
  (n, p, cx) => {
    if (n.type !== "string") fail(cx, n, p, what, example);
    if (!re.test(n.value)) {
      throw cx.loc.error(n.offset, p, `${JSON.stringify(n.value)} is not ${what} (for example ${example})`);
    }
  };

export const arrayOf =
  (item: Check, example?: string): Check =>
  (n, p, cx) => {
    if (n.type !== "array") fail(cx, n, p, "an array", example);
    (n.children ?? []).forEach((c, i) => {
      item(c, `${p}[${i}]`, cx);
    });
  };

function properties(n: Node): { key: string; keyNode: Node; value: Node }[] {
  const out: { key: string; keyNode: Node; value: Node }[] = [];
  for (const prop of n.children ?? []) {
    const [k, v] = prop.children ?? [];
    if (k && v) out.push({ key: String(k.value), keyNode: k, value: v });
  }
  return out;
}

function checkKey(cx: CheckContext, keyNode: Node, path: string, key: string): void {
  if (key === "__proto__") throw cx.loc.error(keyNode.offset, path, `"__proto__" is not a valid name here`);
}

export const recordOf =
  (value: Check, example?: string, keyCheck?: (key: string) => string | undefined): Check =>
  (n, p, cx) => {
    if (n.type !== "object") fail(cx, n, p, "an object", example);
    for (const { key, keyNode, value: v } of properties(n)) {
      checkKey(cx, keyNode, pathKey(p, key), key);
      const bad = keyCheck?.(key);
      if (bad) throw cx.loc.error(keyNode.offset, pathKey(p, key), bad);
      value(v, pathKey(p, key), cx);
    }
  };

/** An object with known properties; unknown ones warn (or fail, with `strict`). */
export const objectOf =
  (
    shape: Record<string, Check>,
    opts: { example?: string; strict?: boolean; required?: string[] } = {},
  ): Check =>
  (n, p, cx) => {
    if (n.type !== "object") fail(cx, n, p, "an object", opts.example);
    const seen = new Set<string>();
    for (const { key, keyNode, value } of properties(n)) {
      const at = pathKey(p, key);
      checkKey(cx, keyNode, at, key);
      seen.add(key);
      const check = Object.hasOwn(shape, key) ? shape[key] : undefined;
      if (check) check(value, at, cx);
      else if (opts.strict) {
        throw cx.loc.error(
          keyNode.offset,
          at,
          `unknown property; expected one of ${Object.keys(shape).join(", ")}`,
        );
      } else {
        cx.warnings.push(
          `${cx.loc.where(keyNode.offset)}: ${at}: unknown property, ignored (check its spelling; docs/devcontainer-support.md lists what Warren reads)`,
        );
      }
    }
    for (const r of opts.required ?? []) {
      if (!seen.has(r)) {
        throw cx.loc.error(
          n.offset,
          p,
          `the property "${r}" is missing${opts.example ? ` (e.g. ${opts.example})` : ""}`,
        );
      }
    }
  };

/** The first alternative whose node type matches decides; otherwise all are named. */
export const oneOf =
  (alts: { types: Node["type"][]; check: Check }[], expected: string, example?: string): Check =>
  (n, p, cx) => {
    const alt = alts.find((a) => a.types.includes(n.type));
    if (!alt) fail(cx, n, p, expected, example);
    alt.check(n, p, cx);
  };

export const any: Check = () => {};
