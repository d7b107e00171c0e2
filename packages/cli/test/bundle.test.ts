// The bundled CLI (src/bundle/*): the source rewrites, the launcher's choice between bundle and
// sources, and a real build whose commands answer exactly as the sources do, against the fake
// daemon (a real HTTP/WebSocket server on a unix socket).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { bundleIsCurrent, entryFor, launchTarget } from "../src/bundle/launcher.ts";
import { lazyBuiltinModule, requireBuiltinImports, rewriteImportMeta } from "../src/bundle/transforms.ts";
import { type FakeDaemon, MAIN, makeEnv, startFakeDaemon } from "./fake-daemon.ts";

/** Evaluates an expression the rewrite produced, with import.meta.url the bundled chunk's. */
function evalAt(expr: string, chunkUrl: string): unknown {
  return new Function("meta", `return (${expr.replaceAll("import.meta", "meta")});`)({ url: chunkUrl });
}

describe("rewriteImportMeta", () => {
  const outdir = "/r/packages/cli/dist";
  const chunk = "file:///r/packages/cli/dist/chunk-AB12.js";
  const file = "/r/packages/runner/src/dns/supervisor.ts";
  const entries = new Map([
    ["/r/packages/cli/src/main.ts", "main.js"],
    ["/r/packages/cli/src/supervisor.ts", "supervisor.js"],
  ]);

  it("points import.meta.url, dirname and filename at the source file, wherever the chunk is", () => {
    for (const [prop, want] of [
      ["url", "file:///r/packages/runner/src/dns/supervisor.ts"],
      ["dirname", "/r/packages/runner/src/dns"],
      ["filename", "/r/packages/runner/src/dns/supervisor.ts"],
    ] as const) {
      const out = rewriteImportMeta(`import.meta.${prop}`, file, outdir, entries);
      assert.equal(evalAt(out, chunk), want, prop);
      // The checkout moved: still the source beside the bundle.
      assert.equal(evalAt(out, chunk.replace("/r/", "/moved/")), want.replace("/r/", "/moved/"), prop);
    }
  });

  it("names a bundled entry instead of its source, and any other file as its source", () => {
    const src = "/r/packages/cli/src/connect.ts";
    const main = rewriteImportMeta('new URL("./main.ts", import.meta.url)', src, outdir, entries);
    assert.equal((evalAt(main, chunk) as URL).href, "file:///r/packages/cli/dist/main.js");
    const other = rewriteImportMeta("new URL('./worker.ts', import.meta.url)", src, outdir, entries);
    assert.equal((evalAt(other, chunk) as URL).href, "file:///r/packages/cli/src/worker.ts");
  });

  it("keeps import.meta.main in an entry's own file only", () => {
    assert.equal(
      rewriteImportMeta("if (import.meta.main) run();", file, outdir, entries),
      "if (false) run();",
    );
    const entry = "/r/packages/cli/src/supervisor.ts";
    assert.equal(
      rewriteImportMeta("if (import.meta.main) run();", entry, outdir, entries),
      "if (import.meta.main) run();",
    );
  });
});

describe("requireBuiltinImports", () => {
  /** Runs rewritten code with a require that records what it loaded; returns the named bindings. */
  function run(code: string, names: string[]): { loaded: string[]; values: unknown[] } {
    const loaded: string[] = [];
    const req = (spec: string) => {
      loaded.push(spec);
      return { join: "J", dirname: "D", default: "no", sep: "/" };
    };
    const values = new Function("require", `${code}\nreturn [${names.join(", ")}];`)(req) as unknown[];
    return { loaded, values };
  }

  it("turns named, renamed, default and namespace imports of a built-in into require()", () => {
    const out = requireBuiltinImports(
      'import path, { join, dirname as dir } from "node:path";\nimport * as p2 from "path";\n',
    );
    assert.doesNotMatch(out, /\bimport\b/);
    const { loaded, values } = run(out, ["join", "dir", "path.sep", "p2.sep"]);
    assert.deepEqual(loaded, ["node:path", "node:path"]);
    assert.deepEqual(values, ["J", "D", "/", "/"]);
  });

  it("drops type-only imports and specifiers, and keeps the line count of a multi-line import", () => {
    const src =
      'import type { Stats } from "node:fs";\nimport {\n  type Dirent,\n  join,\n} from "node:path";\nx;\n';
    const out = requireBuiltinImports(src);
    assert.equal(out.split("\n").length, src.split("\n").length);
    assert.doesNotMatch(out, /Stats|Dirent/);
    assert.deepEqual(run(out.replace("x;", ""), ["join"]).values, ["J"]);
  });

  it("leaves packages, relative files and the lazily loaded built-ins as imports", () => {
    for (const src of [
      'import { WebSocket } from "ws";',
      'import { a } from "./a.ts";',
      'import { createHash } from "node:crypto";',
      'import { request } from "node:https";',
    ]) {
      assert.equal(requireBuiltinImports(src), src);
    }
  });
});

describe("lazyBuiltinModule", () => {
  function load(version: string) {
    let loads = 0;
    const real = { createHash: () => "hash", randomUUID: () => "uuid" };
    const module = { exports: {} as Record<string, unknown> };
    const req = () => {
      loads++;
      return real;
    };
    const src = lazyBuiltinModule("node:crypto", Object.keys(real), "v24.0.0");
    new Function("module", "require", "process", src)(module, req, { version });
    return { exports: module.exports, loads: () => loads };
  }

  it("lists the exports without loading the module, and loads it on first use", () => {
    const m = load("v24.0.0");
    // What esbuild's CommonJS interop does on import: copy getters for every key.
    const copied = Object.fromEntries(Object.getOwnPropertyNames(m.exports).map((k) => [k, k]));
    assert.deepEqual(Object.keys(copied), ["createHash", "randomUUID"]);
    // esbuild's __toESM reads __esModule first, on every import of the stand-in.
    assert.equal(m.exports["__esModule"], undefined);
    assert.equal(m.loads(), 0);
    assert.equal((m.exports["createHash"] as () => string)(), "hash");
    assert.equal((m.exports["randomUUID"] as () => string)(), "uuid");
    assert.equal(m.loads(), 1);
  });

  it("loads the real module at once under another Node, whose exports may differ", () => {
    const m = load("v26.1.0");
    assert.equal(m.loads(), 1);
    assert.equal((m.exports["createHash"] as () => string)(), "hash");
  });
});

describe("launcher", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "warren-bundle-launch-"));
    mkdirSync(path.join(dir, "dist"));
    mkdirSync(path.join(dir, "src"));
    for (const f of ["src/a.ts", "src/b.ts"]) writeFileSync(path.join(dir, f), "");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const dist = () => path.join(dir, "dist");
  const record = (builtAtMs: number, inputs = ["../src/a.ts", "../src/b.ts"]) =>
    writeFileSync(path.join(dist(), "inputs.json"), JSON.stringify({ builtAtMs, inputs }));
  const age = (f: string, msAgo: number) => {
    const t = new Date(Date.now() - msAgo);
    utimesSync(path.join(dir, f), t, t);
  };

  it("runs the bundle while every input is older than the build", () => {
    age("src/a.ts", 60_000);
    age("src/b.ts", 60_000);
    record(Date.now() - 30_000);
    assert.equal(bundleIsCurrent(dist()), true);
    assert.equal(launchTarget(dist(), {}), path.join(dist(), "main.js"));
  });

  it("runs the sources when one input changed after the build", () => {
    age("src/a.ts", 60_000);
    age("src/b.ts", 1_000);
    record(Date.now() - 30_000);
    assert.equal(bundleIsCurrent(dist()), false);
    assert.equal(launchTarget(dist(), {}), path.join(dir, "src/main.ts"));
  });

  it("runs what WARREN_CLI_SOURCES says, whatever the record says", () => {
    record(0);
    assert.equal(launchTarget(dist(), { WARREN_CLI_SOURCES: "0" }), path.join(dist(), "main.js"));
    record(Date.now() + 60_000);
    assert.equal(launchTarget(dist(), { WARREN_CLI_SOURCES: "1" }), path.join(dir, "src/main.ts"));
    assert.equal(launchTarget(dist(), {}), path.join(dist(), "main.js"));
  });

  it("runs plain.js for the plain forms of ls, exec and --version, and main.js for anything else", () => {
    const main = path.join(dist(), "main.js");
    const plain = path.join(dist(), "plain.js");
    for (const args of [["ls"], ["ls", "--json"], ["exec", "dev", "--", "true"], ["--version"], ["-v"]]) {
      assert.equal(entryFor(main, args), plain, args.join(" "));
    }
    for (const args of [
      [],
      ["ls", "--watch"],
      ["ls", "--json", "--json"],
      ["ls", "-h"],
      ["exec", "dev", "true"],
      ["exec", "-t", "dev", "--", "sh"],
      ["exec", "dev", "--"],
      ["exec", "--", "dev", "true"],
      ["--version", "ls"],
      ["inspect", "dev"],
    ]) {
      assert.equal(entryFor(main, args), main, args.join(" "));
    }
    // From the sources, main.ts parses everything.
    const src = path.join(dir, "src/main.ts");
    assert.equal(entryFor(src, ["ls"]), src);
  });

  it("runs the sources when an input is gone or the record is missing or malformed", () => {
    record(Date.now(), ["../src/a.ts", "../src/gone.ts"]);
    assert.equal(bundleIsCurrent(dist()), false);
    writeFileSync(path.join(dist(), "inputs.json"), "{not json");
    assert.equal(bundleIsCurrent(dist()), false);
    rmSync(path.join(dist(), "inputs.json"));
    assert.equal(bundleIsCurrent(dist()), false);
  });
});

describe("the built bundle", () => {
  let out: string;
  let daemon: FakeDaemon;
  before(async () => {
    out = mkdtempSync(path.join(tmpdir(), "warren-bundle-"));
    const build = await cli(path.resolve(import.meta.dirname, "../../../scripts/build-cli.ts"), [
      "--outdir",
      path.join(out, "dist"),
    ]);
    assert.equal(build.status, 0, build.stderr);
    // Beside the bundle as in packages/cli, for the launcher's fallback to the sources.
    symlinkSync(path.resolve(import.meta.dirname, "../src"), path.join(out, "src"));
    daemon = await startFakeDaemon();
    daemon.envs.set("dev", makeEnv("dev"));
  });
  after(async () => {
    await daemon?.close();
    rmSync(out, { recursive: true, force: true });
  });

  function cli(script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [script, ...args], {
        env: { ...process.env, WARREN_NO_AUTOSTART: "1", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c) => {
        stdout += c;
      });
      child.stderr.on("data", (c) => {
        stderr += c;
      });
      child.on("error", reject);
      child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
  }

  for (const args of [
    ["--version"],
    ["--help"],
    ["exec", "--help"],
    ["daemon", "--help"],
    ["no-such-command"],
    ["ls"],
    ["ls", "--json"],
    ["inspect", "nope"],
    ["exec", "dev", "--", "echo", "hi", "there"],
    ["exec", "dev", "--", "exit", "7"],
  ]) {
    it(`answers \`warren ${args.join(" ")}\` exactly as the sources do`, async () => {
      const env = { WARREN_SOCKET: daemon.socket };
      const [bundled, sources] = await Promise.all([
        cli(path.join(out, "dist/main.js"), args, env),
        cli(MAIN, args, env),
      ]);
      assert.deepEqual(bundled, sources);
    });
  }

  // Through the launcher, which runs plain.js for the plain forms (and main.js for the near misses).
  for (const args of [
    ["--version"],
    ["-v"],
    ["ls"],
    ["ls", "--json"],
    ["ls", "--jsn"],
    ["ls", "extra"],
    ["exec", "dev", "--", "echo", "hi", "there"],
    ["exec", "dev", "--", "exit", "7"],
    ["exec", "nope", "--", "true"],
    ["exec", "dev", "--"],
    ["exec", "-x", "--", "true"],
  ]) {
    it(`answers \`warren ${args.join(" ")}\` through its launcher exactly as the sources do`, async () => {
      const env = { WARREN_SOCKET: daemon.socket, WARREN_CLI_SOURCES: "0" };
      const [bundled, sources] = await Promise.all([
        cli(path.join(out, "dist/warren.js"), args, env),
        cli(MAIN, args, env),
      ]);
      assert.deepEqual(bundled, sources);
    });
  }

  it("reports a daemon that is down, through plain.js, as the sources do", async () => {
    const env = { WARREN_SOCKET: path.join(out, "none.sock"), WARREN_CLI_SOURCES: "0" };
    for (const args of [["ls"], ["exec", "dev", "--", "true"]]) {
      const [bundled, sources] = await Promise.all([
        cli(path.join(out, "dist/warren.js"), args, env),
        cli(MAIN, args, env),
      ]);
      assert.notEqual(bundled.status, 0);
      assert.deepEqual(bundled, sources);
    }
  });

  it("reports a daemon that is down as the sources do", async () => {
    const env = { WARREN_SOCKET: path.join(out, "none.sock") };
    const [bundled, sources] = await Promise.all([
      cli(path.join(out, "dist/main.js"), ["ls"], env),
      cli(MAIN, ["ls"], env),
    ]);
    assert.equal(bundled.status, 1);
    assert.deepEqual(bundled, sources);
  });

  it("starts through its launcher", async () => {
    const r = await cli(path.join(out, "dist/warren.js"), ["ls"], { WARREN_SOCKET: daemon.socket });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^NAME +STATE/);
    assert.match(r.stdout, /\ndev +/);
  });
});
