// The plain forms of the commands users type all day, and scripts call in loops, that
// fast-path.ts runs without commander. A form here must mean exactly what commander makes of it
// in main.ts: the same command function with the same arguments and options. Anything else,
// every flag and every mistake included, is main.ts's to parse.

/** What a plain form runs; undefined: not a plain form, main.ts parses it. */
export type PlainForm =
  | { command: "version" }
  | { command: "ls"; opts: { json?: true } }
  | { command: "exec"; name: string; cmd: string[] };

export function plainForm(args: readonly string[]): PlainForm | undefined {
  const [first, ...rest] = args;
  if (args.length === 1 && (first === "--version" || first === "-v")) return { command: "version" };
  if (first === "ls") {
    if (rest.length === 0) return { command: "ls", opts: {} };
    if (rest.length === 1 && rest[0] === "--json") return { command: "ls", opts: { json: true } };
    return undefined;
  }
  // `exec NAME -- CMD [ARGS...]`: no options, a name that cannot be read as one, and a command.
  const [name, sep, ...cmd] = rest;
  if (first === "exec" && name !== undefined && !name.startsWith("-") && sep === "--" && cmd.length > 0) {
    return { command: "exec", name, cmd };
  }
  return undefined;
}
