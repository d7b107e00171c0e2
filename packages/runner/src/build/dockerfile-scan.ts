// What the builder must know of a Dockerfile before buildah sees it: the images its stages start
// FROM (each is fetched by Warren's own registry client and handed to buildah as a local OCI
// layout, so buildah never contacts a registry), and the instructions that would make buildah
// reach the network from the HOST instead of from the environment (ADD of a URL or a git
// repository): those are refused, since they would bypass the environment's egress policy.
// Pure: table-tested in dockerfile-scan.test.ts.
import { WarrenError } from "@warren/protocol";

export interface FromLine {
  /** Index of its physical line in the Dockerfile. */
  line: number;
  /** The image as written after ARG substitution; "scratch" and earlier stages are not images. */
  image: string;
  /** True when it names an earlier stage or scratch: nothing to fetch. */
  local: boolean;
}

export interface DockerfileScan {
  /** The Dockerfile's physical lines, what rewriteFrom edits. */
  lines: string[];
  froms: FromLine[];
}

interface LogicalLine {
  text: string;
  /** Physical line where it starts, and how many it spans. */
  start: number;
  span: number;
}

const FROM_RE = /^(\s*FROM\s+)((?:--[A-Za-z-]+=\S+\s+)*)(\S+)(.*)$/i;
const ARG_RE = /^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?\s*$/i;
const ADD_RE = /^\s*ADD\s+(.*)$/i;

function bad(message: string): never {
  throw new WarrenError("INVALID_ARGUMENT", message, { field: "dockerfile" });
}

/** Joins `\` continuations and skips comment lines, as the Dockerfile parser does. */
export function logicalLines(physical: string[]): LogicalLine[] {
  const out: LogicalLine[] = [];
  let cur: LogicalLine | null = null;
  for (const [i, raw] of physical.entries()) {
    if (/^\s*#/.test(raw)) {
      if (cur) cur.span++;
      continue;
    }
    cur ??= { text: "", start: i, span: 0 };
    cur.span++;
    if (/\\\s*$/.test(raw)) {
      cur.text += raw.replace(/\\\s*$/, "");
      continue;
    }
    cur.text += raw;
    out.push(cur);
    cur = null;
  }
  if (cur) out.push(cur);
  return out;
}

/** `$X`, `${X}`, `${X:-default}` and `${X:+alt}` with the ARGs in scope; unknown ones are empty. */
export function substituteArgs(s: string, vars: Record<string, string>): string {
  return s.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (...m) => {
      const name = (m[1] ?? m[4]) as string;
      const v = vars[name];
      if (m[2] === "-") return v ? v : (m[3] as string);
      if (m[2] === "+") return v ? (m[3] as string) : "";
      return v ?? "";
    },
  );
}

function unquote(s: string): string {
  const t = s.trim();
  return /^"(.*)"$/.test(t) || /^'(.*)'$/.test(t) ? t.slice(1, -1) : t;
}

/** ADD sources that are fetched (URL, git): buildah would fetch them from the host's network. */
function checkAdd(args: string): void {
  const words = args.trim().startsWith("[")
    ? ((): string[] => {
        try {
          return (JSON.parse(args) as unknown[]).map(String);
        } catch {
          return args.split(/\s+/);
        }
      })()
    : args.split(/\s+/).filter((w) => !w.startsWith("--"));
  for (const w of words.slice(0, -1)) {
    if (/^(https?|git|ssh):\/\//i.test(w) || /^git@/i.test(w)) {
      bad(
        `ADD ${w.slice(0, 200)}: ADD of a URL is refused, since the runner would fetch it outside the ` +
          "environment's network policy; download it in a RUN step (e.g. RUN curl -fsSLO URL), which runs " +
          "inside the build's sandbox",
      );
    }
  }
}

/**
 * The FROM images of a Dockerfile. ARGs before the first FROM are in scope for FROM lines, with
 * `buildArgs` overriding their defaults, as docker and buildah do.
 */
export function scanDockerfile(text: string, buildArgs: Record<string, string> = {}): DockerfileScan {
  const lines = text.split(/\r?\n/);
  const globals: Record<string, string> = {};
  const stages = new Set<string>();
  const froms: FromLine[] = [];
  for (const { text: line, start, span } of logicalLines(lines)) {
    const arg = froms.length === 0 ? ARG_RE.exec(line) : null;
    if (arg) {
      const name = arg[1] as string;
      globals[name] = buildArgs[name] ?? unquote(substituteArgs(arg[2] ?? "", globals));
      continue;
    }
    const add = ADD_RE.exec(line);
    if (add) checkAdd(add[1] as string);
    const from = FROM_RE.exec(line);
    if (!from) continue;
    const image = substituteArgs(from[3] as string, globals);
    if (image === "")
      bad(`FROM ${from[3]}: the image is empty after ARG substitution; give it a default or a build arg`);
    const local = image.toLowerCase() === "scratch" || stages.has(image.toLowerCase());
    if (!local && span > 1) bad(`FROM ${image}: write the FROM instruction on one line (no \\ continuation)`);
    froms.push({ line: start, image, local });
    const alias = /^\s*AS\s+(\S+)\s*$/i.exec(from[4] as string);
    if (alias) stages.add((alias[1] as string).toLowerCase());
  }
  if (froms.length === 0) bad("the Dockerfile has no FROM line; start it with FROM IMAGE");
  return { lines, froms };
}

/** The Dockerfile with each image FROM replaced by `replacement(image)` (stages and scratch kept). */
export function rewriteFrom(scan: DockerfileScan, replacement: (image: string) => string): string {
  const lines = [...scan.lines];
  for (const f of scan.froms) {
    if (f.local) continue;
    const m = FROM_RE.exec(lines[f.line] as string);
    if (!m) continue;
    lines[f.line] = `${m[1]}${m[2]}${replacement(f.image)}${m[4]}`;
  }
  return `${lines.join("\n")}\n`;
}
