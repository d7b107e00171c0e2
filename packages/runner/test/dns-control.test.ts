// The resolver's control channel refuses every malformed line with a reason, never a throw.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseReply, parseRequest } from "../src/dns/control.ts";

describe("dns control messages", () => {
  const ok: [string, unknown][] = [
    ['{"id":1,"op":"hello"}', { id: 1, op: "hello" }],
    ['{"id":2,"op":"set","ip":"10.88.0.2","name":"dev"}', { id: 2, op: "set", ip: "10.88.0.2", name: "dev" }],
    ['{"id":3,"op":"delete","ip":"10.88.0.2"}', { id: 3, op: "delete", ip: "10.88.0.2" }],
    [
      '{"id":4,"op":"names","names":[["10.88.0.2","a"]]}',
      { id: 4, op: "names", names: [["10.88.0.2", "a"]] },
    ],
    ['{"id":5,"op":"stats","extra":1}', { id: 5, op: "stats" }],
  ];
  for (const [line, want] of ok) it(`accepts ${line}`, () => assert.deepEqual(parseRequest(line), want));

  const bad: [string, RegExp][] = [
    ["{", /not JSON/],
    ["null", /missing id/],
    ['{"op":"hello"}', /missing id/],
    ['{"id":"1","op":"hello"}', /missing id/],
    ['{"id":1,"op":"exec"}', /unknown op "exec"/],
    ['{"id":1,"op":"set","ip":"10.88.0.2"}', /bad set/],
    ['{"id":1,"op":"set","ip":"","name":"x"}', /bad set/],
    [`{"id":1,"op":"set","ip":"1","name":"${"x".repeat(300)}"}`, /bad set/],
    ['{"id":1,"op":"delete","ip":5}', /bad delete/],
    ['{"id":1,"op":"names","names":[["10.88.0.2"]]}', /bad names/],
    ['{"id":1,"op":"names","names":{}}', /bad names/],
  ];
  for (const [line, why] of bad)
    it(`refuses ${line.slice(0, 50)}`, () => assert.match(String(parseRequest(line)), why));

  it("replies need an id and ok, and a refusal needs its reason", () => {
    assert.deepEqual(parseReply('{"id":1,"ok":true,"pid":7}'), { id: 1, ok: true, pid: 7 });
    assert.equal(parseReply('{"id":1,"ok":false}'), null);
    assert.equal(parseReply('{"ok":true}'), null);
    assert.equal(parseReply("]"), null);
  });
});
