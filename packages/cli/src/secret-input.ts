// Reading a login from the user: a prompt on the terminal (with echo off for passwords), or all
// of stdin for --password-stdin.
import { WarrenError } from "@warren/protocol";

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Reads one line from the terminal; with echo off the typed characters are not shown. */
export function prompt(question: string, opts: { echo: boolean }): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let line = "";
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding("utf8");
    const done = (err: Error | null) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (s: string) => {
      for (const ch of s) {
        if (ch === "\r" || ch === "\n") return done(null);
        if (ch === "\u0003") return done(new WarrenError("INVALID_ARGUMENT", "cancelled"));
        if (ch === "\u007f" || ch === "\b") {
          if (line.length > 0) {
            line = line.slice(0, -1);
            if (opts.echo) process.stderr.write("\b \b");
          }
          continue;
        }
        line += ch;
        if (opts.echo) process.stderr.write(ch);
      }
    };
    stdin.on("data", onData);
  });
}
