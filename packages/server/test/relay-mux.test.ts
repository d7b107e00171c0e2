// The frames between the gateway and warren-relay listen (runner/native/warren-relay.c).
import assert from "node:assert/strict";
import { it } from "node:test";
import { encodeFrame, FrameDecoder, FrameType, MAX_PAYLOAD } from "../src/ingress/relay-mux.ts";

it("frames survive any split of the byte stream", () => {
  const frames = [
    encodeFrame(0, FrameType.ready),
    encodeFrame(7, FrameType.open),
    encodeFrame(7, FrameType.data, Buffer.from("hello")),
    encodeFrame(0xfffffffe, FrameType.data, Buffer.alloc(MAX_PAYLOAD, 1)),
    encodeFrame(7, FrameType.eof),
  ];
  const bytes = Buffer.concat(frames);
  assert.deepEqual(
    [...bytes.subarray(18, 27)],
    [0, 0, 0, 7, 2, 0, 0, 0, 5],
    "[u32 id][u8 type][u32 len], big-endian",
  );
  for (const step of [1, 3, 9, 4096, bytes.length]) {
    const d = new FrameDecoder();
    const got = [];
    for (let off = 0; off < bytes.length; off += step) got.push(...d.push(bytes.subarray(off, off + step)));
    assert.deepEqual(
      got.map((f) => [f.id, f.type, f.payload.length]),
      [
        [0, 5, 0],
        [7, 1, 0],
        [7, 2, 5],
        [0xfffffffe, 2, MAX_PAYLOAD],
        [7, 3, 0],
      ],
      `split every ${step} bytes`,
    );
  }
});

it("refuses frames over the size limit, both ways", () => {
  assert.throws(() => encodeFrame(1, FrameType.data, Buffer.alloc(MAX_PAYLOAD + 1)), /max 65536/);
  const header = Buffer.from([0, 0, 0, 1, 2, 0, 1, 0, 1]);
  assert.throws(() => new FrameDecoder().push(header), /frame of 65537 bytes/);
});
