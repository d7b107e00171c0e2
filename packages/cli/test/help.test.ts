// Help is part of the interface: every command's --help ends with examples that parse, every
// argument is described, required flags say so and no default is stated twice. The command tree
// is main.ts's own, loaded in this process (parsing is held back); a few runs of the real CLI
// check what only a process shows: bare `warren` and `--version`.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { Command, CommanderError } from "commander";
import { cliVersion } from "../src/cli-version.ts";
import { commandPath, EXAMPLES } from "../src/help-examples.ts";
import { runCli } from "./fake-daemon.ts";

let program: Command;
const all: Command[] = [];

before(async () => {
  const parseAsync = Command.prototype.parseAsync;
  Command.prototype.parseAsync = async function (this: Command) {
    program = this;
    return this;
  };
  const argv = process.argv;
  // Bare `warren` prints help and exits: give main.ts something to (not) parse.
  process.argv = [argv[0]!, "warren", "help-test"];
  try {
    await import("../src/main.ts");
  } finally {
    Command.prototype.parseAsync = parseAsync;
    process.argv = argv;
  }
  const visit = (c: Command) => {
    all.push(c);
    c.commands.forEach(visit);
  };
  visit(program);
  assert.ok(all.length > 40, `found only ${all.length} commands`);
});

function helpOf(cmd: Command): string {
  let out = "";
  cmd.configureOutput({ writeOut: (s) => (out += s) });
  cmd.outputHelp();
  return out;
}

/** The argv an example line runs, without `sudo`, a comment, a pipe into it or a redirection. */
function exampleArgv(line: string): string[] {
  const cmd = line
    .replace(/\s+#.*$/, "")
    .replace(/^.*\|\s*/, "")
    .replace(/\s+<\s*\S+/, "")
    .replace(/^sudo\s+/, "");
  const words = cmd.split(/\s+/).filter(Boolean);
  assert.equal(words[0], "warren", line);
  return words.slice(1);
}

describe("help", () => {
  it("every command's --help ends with examples of that command", () => {
    for (const cmd of all) {
      const path = commandPath(cmd);
      const help = helpOf(cmd);
      assert.match(help, /\nExamples:\n {2}\$ /, `warren ${path} --help has no examples`);
      const lines = EXAMPLES[path]!;
      assert.ok(
        lines.some((l) => exampleArgv(l).join(" ").startsWith(path)),
        `no example of warren ${path} runs it: ${lines.join("; ")}`,
      );
    }
  });

  it("every example parses: its command, flags and arguments exist", async () => {
    // Actions replaced, so parsing runs nothing; a bad flag or argument count throws.
    for (const cmd of all) cmd.action(() => {});
    for (const cmd of all) cmd.configureOutput({ writeOut: () => {}, writeErr: () => {} });
    for (const lines of Object.values(EXAMPLES)) {
      for (const line of lines) {
        const argv = exampleArgv(line);
        try {
          await program.parseAsync(argv, { from: "user" });
        } catch (err) {
          // `warren --version` exits through commander as well; that is what it should do.
          if (err instanceof CommanderError && err.code === "commander.version") continue;
          assert.fail(`example "${line}" does not parse: ${(err as Error).message}`);
        }
      }
    }
  });

  it("no example is for a command that does not exist", () => {
    const paths = new Set(all.map(commandPath));
    for (const key of Object.keys(EXAMPLES)) assert.ok(paths.has(key), `examples for unknown "${key}"`);
  });

  it("every argument is described", () => {
    for (const cmd of all) {
      for (const a of cmd.registeredArguments) {
        assert.ok(
          a.description.trim(),
          `warren ${commandPath(cmd)}: argument <${a.name()}> has no description`,
        );
      }
    }
  });

  it("required flags say so in the help", () => {
    let seen = 0;
    for (const cmd of all) {
      // Unwrapped: help wraps long descriptions onto a second line.
      const help = helpOf(cmd).replace(/\n\s{10,}/g, " ");
      for (const o of cmd.options.filter((o) => o.mandatory)) {
        seen++;
        const line = help.split("\n").find((l) => l.trimStart().startsWith(o.flags));
        assert.match(
          line ?? "",
          /\(required\)/,
          `warren ${commandPath(cmd)} ${o.flags} is not marked required`,
        );
      }
    }
    assert.ok(seen >= 5, `only ${seen} required flags found`);
  });

  it("no default is stated twice", () => {
    for (const cmd of all) {
      for (const o of cmd.options.filter((o) => o.defaultValue !== undefined)) {
        assert.doesNotMatch(
          o.description,
          /\(default/i,
          `warren ${commandPath(cmd)} ${o.flags}: commander already prints (default: ...)`,
        );
      }
      assert.doesNotMatch(helpOf(cmd), /\(default[^)]*\)\s+\(default/);
    }
  });
});

describe("help and version from the real CLI", () => {
  it("bare `warren` prints the help on stdout and exits 0", async () => {
    const r = await runCli([]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^Usage: warren \[options\] \[command\]/);
    assert.match(r.stdout, /\n {2}rm \[options\] <names\.\.\.>/);
  });

  it("--version and -v print the CLI's version and exit 0; -v after a command is that command's", async () => {
    for (const flag of ["--version", "-v"]) {
      const r = await runCli([flag]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `warren ${cliVersion()}\n`);
    }
    assert.match(cliVersion(), /^\d+\.\d+\.\d+/);
    const later = await runCli(["ls", "-v"], { env: { WARREN_SOCKET: "/nonexistent/warren.sock" } });
    assert.equal(later.status, 1);
    assert.match(later.stderr, /unknown option '-v'/);
  });

  it("a command's --help shows its examples", async () => {
    const r = await runCli(["rm", "--help"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\nExamples:\n {2}\$ warren rm dev\n {2}\$ warren rm -f dev web\n/);
  });
});
