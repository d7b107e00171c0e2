// bench/transport: the stream transport between control plane and runner (HTTP/2 over a
// WebSocket on loopback) beside a plain TCP connection on loopback, in one process:
// - throughput of one stream, as a ratio to a plain TCP copy of the same bytes;
// - the same bytes split over 100 concurrent streams;
// - round-trip latency of a small echo over one stream vs over plain TCP (p50/p99; the
//   difference is what the transport adds per round trip).
// The runner side writes and the control plane side reads, as for a download or an exec's output.
//
//   node bench/transport/run.ts [--mib 256] [--round-trips 2000]
import { once } from "node:events";
import net from "node:net";
import type { Duplex } from "node:stream";
import { parseArgs } from "node:util";
import { startLoopback } from "@warren/testing/streams-loopback";
import { percentile, printTable, writeResults } from "../lib/stats.ts";

const { values: args } = parseArgs({
  options: {
    mib: { type: "string", default: "256" },
    "round-trips": { type: "string", default: "2000" },
    repeat: { type: "string", default: "3" },
  },
});
const TOTAL = Number(args.mib) * 1024 * 1024;
const ROUND_TRIPS = Number(args["round-trips"]);
// The host is shared, so TCP and transport runs alternate and each figure is the median of its runs.
const REPEAT = Number(args.repeat);
const CHUNK = Buffer.alloc(64 * 1024, 0xa5);
const PING = Buffer.alloc(64, 0x5a);

/** Writes `bytes` bytes, honouring backpressure, then ends. */
function send(stream: Duplex, bytes: number): void {
  let left = bytes;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!stream.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n)))
        return void stream.once("drain", pump);
    }
    stream.end();
  };
  pump();
}

async function drain(stream: Duplex): Promise<number> {
  // Nothing to send: half-close, so the runner's end of the response ends the stream cleanly.
  stream.end();
  let n = 0;
  try {
    for await (const c of stream) n += (c as Buffer).length;
  } catch (err) {
    const code = (stream as { rstCode?: number }).rstCode;
    throw new Error(
      `stream ended after ${n} bytes (reset code ${code ?? "none"}): ${(err as Error).message}`,
    );
  }
  return n;
}

/** Sends 64 bytes and waits for them to come back, ROUND_TRIPS times; returns each round trip in µs. */
async function pingPong(stream: Duplex): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t0 = process.hrtime.bigint();
    let got = 0;
    const back = new Promise<void>((resolve) => {
      const onData = (c: Buffer) => {
        got += c.length;
        if (got >= PING.length) {
          stream.off("data", onData);
          resolve();
        }
      };
      stream.on("data", onData);
    });
    stream.write(PING);
    await back;
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return samples;
}

const mbps = (bytes: number, ms: number) => bytes / 1024 / 1024 / (ms / 1000);

async function tcp() {
  const server = net.createServer((s) => {
    s.once("data", (first: Buffer) => {
      if (first.toString() === "copy") send(s, TOTAL);
      else {
        s.write(first);
        s.pipe(s);
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  const copy = net.connect(port, "127.0.0.1");
  copy.setNoDelay(true);
  await once(copy, "connect");
  let t0 = performance.now();
  copy.write("copy");
  const bytes = await drain(copy);
  const copyMs = performance.now() - t0;
  const echo = net.connect(port, "127.0.0.1");
  echo.setNoDelay(true);
  await once(echo, "connect");
  t0 = performance.now();
  const rtt = await pingPong(echo);
  echo.destroy();
  server.close();
  return { mbps: mbps(bytes, copyMs), rtt };
}

async function transport() {
  const lb = await startLoopback(
    {
      source: (meta, s) => send(s, Number(meta.bytes)),
      echo: (_meta, s) => void s.pipe(s),
    },
    {
      server: { onProblem: (m) => console.error(`runner: ${m}`) },
      client: { onProblem: (m) => console.error(`control plane: ${m}`) },
    },
  );
  try {
    let t0 = performance.now();
    const one = await drain(await lb.client.openStream("source", { bytes: String(TOTAL) }));
    const oneMs = performance.now() - t0;
    if (one !== TOTAL) throw new Error(`one stream carried ${one} bytes, expected ${TOTAL}`);
    const per = Math.floor(TOTAL / 100);
    t0 = performance.now();
    const streams = await Promise.all(
      Array.from({ length: 100 }, () => lb.client.openStream("source", { bytes: String(per) })),
    );
    const many = (await Promise.all(streams.map(drain))).reduce((a, b) => a + b, 0);
    const manyMs = performance.now() - t0;
    if (many !== per * 100) throw new Error(`100 streams carried ${many} bytes, expected ${per * 100}`);
    const echo = await lb.client.openStream("echo");
    const rtt = await pingPong(echo);
    echo.end();
    return { oneMbps: mbps(one, oneMs), manyMbps: mbps(many, manyMs), rtt };
  } finally {
    await lb.close();
  }
}

const runs: { tcp: Awaited<ReturnType<typeof tcp>>; st: Awaited<ReturnType<typeof transport>> }[] = [];
for (let i = 0; i < REPEAT; i++) runs.push({ tcp: await tcp(), st: await transport() });
const median = (xs: number[]) => percentile(xs, 50);
const base = { mbps: median(runs.map((r) => r.tcp.mbps)), rtt: runs.flatMap((r) => r.tcp.rtt) };
const t = {
  oneMbps: median(runs.map((r) => r.st.oneMbps)),
  manyMbps: median(runs.map((r) => r.st.manyMbps)),
  rtt: runs.flatMap((r) => r.st.rtt),
};
const lat = (xs: number[]) => ({ p50: percentile(xs, 50), p99: percentile(xs, 99) });
const tcpLat = lat(base.rtt);
const stLat = lat(t.rtt);
const result = {
  bytes: TOTAL,
  roundTrips: ROUND_TRIPS,
  repeat: REPEAT,
  runsMiBps: runs.map((r) => ({ tcp: r.tcp.mbps, oneStream: r.st.oneMbps, hundredStreams: r.st.manyMbps })),
  tcpCopyMiBps: base.mbps,
  oneStreamMiBps: t.oneMbps,
  oneStreamRatio: t.oneMbps / base.mbps,
  hundredStreamsMiBps: t.manyMbps,
  hundredStreamsRatio: t.manyMbps / base.mbps,
  rttUs: { tcp: tcpLat, stream: stLat, addedP50: stLat.p50 - tcpLat.p50, addedP99: stLat.p99 - tcpLat.p99 },
};
printTable(
  `stream transport vs plain TCP on loopback (${args.mib} MiB, ${ROUND_TRIPS} round trips, median of ${REPEAT} runs)`,
  [
    {
      path: "plain TCP copy",
      "MiB/s": base.mbps,
      ratio: 1,
      "rtt p50 µs": tcpLat.p50,
      "rtt p99 µs": tcpLat.p99,
    },
    {
      path: "1 stream",
      "MiB/s": t.oneMbps,
      ratio: result.oneStreamRatio,
      "rtt p50 µs": stLat.p50,
      "rtt p99 µs": stLat.p99,
    },
    {
      path: "100 streams",
      "MiB/s": t.manyMbps,
      ratio: result.hundredStreamsRatio,
      "rtt p50 µs": "",
      "rtt p99 µs": "",
    },
  ],
);
console.log(
  `added per round trip: p50 ${result.rttUs.addedP50.toFixed(0)} µs, p99 ${result.rttUs.addedP99.toFixed(0)} µs`,
);
console.log(`wrote ${writeResults("transport", result)}`);
