// JSONC text to a syntax tree with positions, and errors that point at a line and column.
// Hostile input (deep nesting, huge files, odd keys) ends in a WarrenError, never a crash.
import { WarrenError } from "@warren/protocol";
import { createScanner, type Node, type ParseError, parseTree, printParseErrorCode } from "jsonc-parser";

// jsonc-parser's SyntaxKind is a const enum, which type stripping cannot inline.
const OPEN_BRACE = 1;
const CLOSE_BRACE = 2;
const OPEN_BRACKET = 3;
const CLOSE_BRACKET = 4;
const EOF = 17;

export type { Node };

/** Larger configuration files are refused: no real devcontainer.json comes close. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Deeper nesting is refused before parsing (the parser recurses). */
export const MAX_NESTING = 64;

export class Locator {
  private readonly lineStarts: number[] = [0];
  readonly file: string;
  constructor(text: string, file: string) {
    this.file = file;
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }
  /** 1-based line and column of a character offset. */
  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo]! + 1 };
  }
  error(offset: number, path: string, what: string): WarrenError {
    const { line, column } = this.position(offset);
    const where = path === "" ? "" : `${path}: `;
    return new WarrenError("INVALID_ARGUMENT", `${this.file}:${line}:${column}: ${where}${what}`, {
      file: this.file,
      line,
      column,
      path,
    });
  }
  where(offset: number): string {
    const { line, column } = this.position(offset);
    return `${this.file}:${line}:${column}`;
  }
}

const SYNTAX_HINTS: Record<string, string> = {
  InvalidSymbol: "an unexpected character; check for a missing quote or comma",
  CommaExpected: "a comma is missing between two entries",
  ColonExpected: 'a colon is missing after a property name ("name": value)',
  PropertyNameExpected: "a property name in double quotes is expected",
  ValueExpected: "a value is expected (a string, number, true, false, null, object or array)",
  CloseBraceExpected: "a closing } is missing",
  CloseBracketExpected: "a closing ] is missing",
  EndOfFileExpected: "text after the end of the top-level object; remove it",
  UnexpectedEndOfString: "a string is not closed; add the closing double quote",
  UnexpectedEndOfComment: "a /* comment is not closed; add */",
  InvalidUnicode: "an invalid \\u escape; use four hex digits",
  InvalidEscapeCharacter: 'an invalid escape in a string; use \\\\, \\", \\n, \\t or \\uXXXX',
  InvalidCharacter: "a control character inside a string; escape it",
  InvalidNumberFormat: "a malformed number",
  InvalidCommentToken: "a malformed comment",
};

/** Parses JSONC (comments and trailing commas allowed) to a tree; syntax errors carry line:column. */
export function parseJsoncTree(text: string, file: string): { tree: Node; loc: Locator } {
  const loc = new Locator(text, file);
  if (text.length > MAX_CONFIG_BYTES) {
    throw loc.error(
      0,
      "",
      `the file is ${text.length} bytes, more than the ${MAX_CONFIG_BYTES} a configuration may have`,
    );
  }
  checkNesting(text, loc);
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  const first = errors[0];
  if (first) {
    const code = printParseErrorCode(first.error);
    throw loc.error(first.offset, "", `invalid JSON: ${SYNTAX_HINTS[code] ?? code}`);
  }
  if (!tree) throw loc.error(0, "", "the file is empty; it must hold one JSON object");
  return { tree, loc };
}

function checkNesting(text: string, loc: Locator): void {
  const scanner = createScanner(text, true);
  let depth = 0;
  for (let kind = scanner.scan(); kind !== EOF; kind = scanner.scan()) {
    if (kind === OPEN_BRACE || kind === OPEN_BRACKET) {
      if (++depth > MAX_NESTING) {
        throw loc.error(
          scanner.getTokenOffset(),
          "",
          `nested more than ${MAX_NESTING} levels deep; flatten the configuration`,
        );
      }
    } else if (kind === CLOSE_BRACE || kind === CLOSE_BRACKET) {
      depth = Math.max(0, depth - 1);
    }
  }
}

/** A property key written into a JSON path: plain when it is an identifier, else quoted. */
export function pathKey(parent: string, key: string): string {
  if (/^[A-Za-z_$][\w$]*$/.test(key)) return parent === "" ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

/** Sets an own property even for names like __proto__ (no prototype setter runs). */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The plain value of a tree node. */
export function nodeValue(node: Node): unknown {
  switch (node.type) {
    case "object": {
      const out: Record<string, unknown> = {};
      for (const prop of node.children ?? []) {
        const [k, v] = prop.children ?? [];
        if (k && v) setOwn(out, String(k.value), nodeValue(v));
      }
      return out;
    }
    case "array":
      return (node.children ?? []).map(nodeValue);
    default:
      return node.value;
  }
}

export function describeNode(node: Node): string {
  if (node.type === "number" && !Number.isInteger(node.value)) return "a fractional number";
  if (node.type === "null") return "null";
  return node.type === "array" || node.type === "object" ? `an ${node.type}` : `a ${node.type}`;
}
