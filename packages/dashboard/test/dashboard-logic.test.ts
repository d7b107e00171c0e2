// The dashboard's pure parts, in Node: the SSE parser the live list and logs depend on, the
// watch's event folding, the exec framing, the API error messages and the ssh snippets.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, type Environment, errorMessage, toApiError } from "../src/api.ts";
import { applyWatchEvent } from "../src/environments.ts";
import { Channel, controlFrame, execUrl, frame, parseIncoming, SHELL_CMD } from "../src/exec-frames.ts";
import { formatBytes, formatRelative } from "../src/format.ts";
import { matchPath } from "../src/router.ts";
import { SseParser } from "../src/sse.ts";
import { sshSnippets } from "../src/ssh-snippets.ts";

test("SSE: events split across chunks, CRLF, comments, multi-line data and ids", () => {
  const p = new SseParser();
  const got = [
    ...p.push("retry: 1000\r\n\r\n: heartbeat\n\nevent: ADDED\nid: 7\nda"),
    ...p.push('ta: {"a":1}\r'),
    ...p.push("\ndata: second line\n"),
    ...p.push("\nevent: BOOKMARK\ndata: {}\n\n"),
  ];
  assert.deepEqual(got, [
    { event: "ADDED", data: '{"a":1}\nsecond line', id: "7" },
    { event: "BOOKMARK", data: "{}", id: "7" },
  ]);
  assert.equal(p.lastId, "7");
  assert.deepEqual(p.push("data: x"), [], "no event before its blank line");
});

test("the watch folds ADDED/MODIFIED/DELETED by id and ignores a BOOKMARK", () => {
  const env = (id: string, state: string) => ({ id, name: id, state }) as unknown as Environment;
  let m = new Map<string, Environment>();
  m = applyWatchEvent(m, { type: "ADDED", resourceVersion: 1, object: env("a", "creating") });
  m = applyWatchEvent(m, { type: "ADDED", resourceVersion: 2, object: env("b", "creating") });
  m = applyWatchEvent(m, { type: "MODIFIED", resourceVersion: 3, object: env("a", "running") });
  const before = m;
  m = applyWatchEvent(m, { type: "BOOKMARK", resourceVersion: 3 });
  assert.equal(m, before);
  m = applyWatchEvent(m, { type: "DELETED", resourceVersion: 4, object: env("b", "deleting") });
  assert.deepEqual(
    [...m.values()].map((e) => [e.id, e.state]),
    [["a", "running"]],
  );
});

test("exec frames: channel byte first; output, control and junk told apart", () => {
  assert.deepEqual([...frame(Channel.stdin, "id\r")], [0, 105, 100, 13]);
  const resize = controlFrame({ type: "resize", cols: 80, rows: 24 });
  assert.equal(resize[0], Channel.control);
  const buf = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  const out = parseIncoming(buf(frame(Channel.stderr, "oops")));
  assert.equal(out.kind, "output");
  assert.deepEqual(parseIncoming(buf(controlFrame({ type: "exit", code: 3 }))), {
    kind: "control",
    msg: { type: "exit", code: 3 },
  });
  assert.deepEqual(parseIncoming(buf(frame(Channel.control, "{not json"))), { kind: "ignored" });
  assert.deepEqual(parseIncoming(new ArrayBuffer(0)), { kind: "ignored" });
  const url = new URL(execUrl({ protocol: "https:", host: "warren.example.com" }, "my-env", 100, 30));
  assert.equal(url.protocol, "wss:");
  assert.equal(url.pathname, "/api/v1/environments/my-env/exec");
  assert.deepEqual(JSON.parse(url.searchParams.get("cmd")!), SHELL_CMD);
  assert.equal(url.searchParams.get("cols"), "100");
  assert.equal(url.searchParams.get("tty"), "1");
});

test("errors show the catalog's message, never a stack", () => {
  const e = toApiError(404, { code: "ENV_NOT_FOUND", message: 'no environment named "x"' });
  assert.ok(e instanceof ApiError);
  assert.equal(e.code, "ENV_NOT_FOUND");
  assert.equal(errorMessage(e), 'no environment named "x"');
  const bare = toApiError(502, "<html>bad gateway</html>");
  assert.match(errorMessage(bare), /answered 502/);
  assert.doesNotMatch(errorMessage(bare), /html/);
  assert.match(errorMessage(new TypeError("Failed to fetch")), /Could not reach/);
  const internal = new Error("boom");
  assert.equal(errorMessage(internal), "boom");
  assert.doesNotMatch(errorMessage(internal), /at .*:\d+/);
});

test("ssh snippets: a wildcard gateway is reached by the page's host; a fixed one by its own", () => {
  const key = "ssh-ed25519 AAAAC3Nza";
  const wild = sshSnippets("dev", { host: "0.0.0.0", port: 2222, hostKey: key }, "warren.example.com");
  assert.equal(wild.command, "ssh -p 2222 dev@warren.example.com");
  assert.match(
    wild.config,
    /^Host dev\.warren\n {2}HostName warren\.example\.com\n {2}Port 2222\n {2}User dev\n$/,
  );
  assert.equal(wild.knownHosts, `[warren.example.com]:2222 ${key}`);
  const fixed = sshSnippets("dev", { host: "[::1]", port: 22, hostKey: key }, "warren.localhost");
  assert.equal(fixed.command, "ssh dev@::1");
  assert.equal(fixed.knownHosts, `::1 ${key}`);
});

test("paths and figures", () => {
  assert.deepEqual(matchPath("/env/:name/terminal", "/env/my%2Denv/terminal"), { name: "my-env" });
  assert.equal(matchPath("/env/:name", "/env/"), undefined);
  assert.equal(matchPath("/env/:name", "/env/%E0%A4%A"), undefined);
  assert.equal(formatBytes(2 * 2 ** 30), "2.0 GiB");
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatRelative(new Date(1_000_000 - 120_000).toISOString(), 1_000_000), "2 min ago");
  assert.equal(formatRelative(new Date(1_000_000 + 7_200_000).toISOString(), 1_000_000), "in 2 h");
});
