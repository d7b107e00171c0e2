// Parsing the kernel's /proc/net/tcp{,6} tables for `warren port ls` (engine/ports.ts): only
// LISTEN sockets, addresses decoded from the kernel's word order, bad lines skipped, names cleaned.
import assert from "node:assert/strict";
import { test } from "node:test";
import { cleanComm, hexAddress, parseProcNetTcp } from "../src/engine/ports.ts";

const HEADER =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

test("IPv4: LISTEN rows only, with port, address and inode", () => {
  const text =
    HEADER +
    "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 100 0 0 10 0\n" +
    "   1: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0 100 0 0 10 0\n" +
    // An established connection from the same port: not a listener.
    "   2: 0100007F:1F90 0100007F:B3AA 01 00000000:00000000 03:00000EAD 00000000     0        0 99 3 0\n" +
    "   3: garbage\n";
  assert.deepEqual(parseProcNetTcp(text, 4), [
    { port: 8080, address: "0.0.0.0", family: 4, inode: "4242" },
    { port: 3000, address: "127.0.0.1", family: 4, inode: "77" },
  ]);
});

test("IPv6: any, loopback and a v4-mapped address, compressed as RFC 5952 says", () => {
  const row = (addr: string, port: string, inode: number) =>
    `   0: ${addr}:${port} 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 ${inode} 1 0\n`;
  const text =
    HEADER +
    row("00000000000000000000000000000000", "1F90", 1) +
    row("00000000000000000000000001000000", "0050", 2) +
    row("0000000000000000FFFF00000100007F", "0016", 3);
  assert.deepEqual(
    parseProcNetTcp(text, 6).map((e) => [e.port, e.address]),
    [
      [8080, "::"],
      [80, "::1"],
      [22, "::ffff:127.0.0.1"],
    ],
  );
});

test("the word order follows the host's endianness", () => {
  assert.equal(hexAddress("0100007F", 4, "LE"), "127.0.0.1");
  assert.equal(hexAddress("7F000001", 4, "BE"), "127.0.0.1");
  assert.equal(hexAddress("20010DB8000000000000000000000001", 6, "BE"), "2001:db8::1");
  assert.equal(hexAddress("B80D0120000000000000000001000000", 6, "LE"), "2001:db8::1");
  assert.equal(hexAddress("0100007", 4), undefined, "too short");
  assert.equal(hexAddress("0100007G", 4), undefined, "not hex");
});

test("ports out of range and inodes that are not numbers are skipped", () => {
  const text =
    HEADER +
    "   0: 00000000:0000 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 5 1\n" +
    "   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 x5 1\n";
  assert.deepEqual(parseProcNetTcp(text, 4), []);
});

test("a process name set by the environment is kept printable", () => {
  assert.equal(cleanComm("node\n"), "node");
  assert.equal(cleanComm("\u001b[31mevil\n"), "?[31mevil");
});
