// The RunnerStreams contract, one suite for every implementation: a dial to a server on the
// environment's 127.0.0.1 carries bytes both ways; a port nothing listens on is DIAL_FAILED with
// the errno; an environment that is not running is ENV_NOT_RUNNING. listPorts finds nothing in a
// fresh environment and the server once it listens.
import assert from "node:assert/strict";
import { once } from "node:events";
import { isIP } from "node:net";
import type { Duplex } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { RunnerEnvSpec, RunnerStreams } from "@warren/protocol";
import { type RunnerSubject, rejectsWithCode, unknownId, withTimeout } from "./subject.ts";

export interface StreamsSubject extends RunnerSubject<RunnerStreams> {
  /** Starts an echo server on `port` of the running environment's 127.0.0.1; resolves once it accepts. */
  listen(id: string, port: number): Promise<void>;
  /** The process name listPorts reports for that server, where the implementation tells names. */
  listenerProcess?: string;
}

/** Ports inside the environment's own network namespace: nothing else there holds them. */
const ECHO_PORT = 7017;
const CLOSED_PORT = 7018;

/** Writes `msg` and reads until as many bytes came back. */
async function roundTrip(sock: Duplex, msg: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  const done = new Promise<Buffer>((resolve, reject) => {
    const onData = (d: Buffer) => {
      chunks.push(d);
      n += d.length;
      if (n >= msg.length) {
        sock.off("data", onData);
        sock.off("error", reject);
        resolve(Buffer.concat(chunks));
      }
    };
    sock.on("data", onData);
    sock.once("error", reject);
  });
  sock.write(msg);
  return withTimeout(done, 5000, `an echo of ${msg.length} bytes`);
}

export function streamsConformance(name: string, makeSubject: () => Promise<StreamsSubject>): void {
  describe(`RunnerStreams conformance: ${name}`, () => {
    let s: StreamsSubject;
    let spec: RunnerEnvSpec;
    before(async () => {
      s = await makeSubject();
      spec = s.envSpec("streams");
      await s.api.ensureRunning(spec);
    });
    after(async () => {
      await s?.cleanup();
    });

    it("listPorts of an environment where nothing listens is empty", async () => {
      assert.deepEqual(await s.api.listPorts(spec.id), []);
    });

    it("a dial to a listening port on the environment's 127.0.0.1 carries bytes both ways", async () => {
      await s.listen(spec.id, ECHO_PORT);
      const sock = await s.api.dial(spec.id, ECHO_PORT);
      try {
        assert.deepEqual(await roundTrip(sock, Buffer.from("ping\n")), Buffer.from("ping\n"));
        // Binary, not text: every byte value survives, in order.
        const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));
        assert.deepEqual(await roundTrip(sock, bytes), bytes);
      } finally {
        sock.destroy();
      }
      // Each dial is its own connection: a second one works while nothing else is open.
      const second = await s.api.dial(spec.id, ECHO_PORT, "127.0.0.1");
      try {
        assert.deepEqual(await roundTrip(second, Buffer.from("again\n")), Buffer.from("again\n"));
        second.end();
        await withTimeout(
          once(second, "close").catch(() => undefined),
          5000,
          "a half-closed dial closes",
        );
      } finally {
        second.destroy();
      }
    });

    it("listPorts finds the listening server: its port, address and family", async () => {
      // The dial test above started it; listen() again is a no-op where it already listens.
      const ports = await s.api.listPorts(spec.id);
      const echo = ports.filter((p) => p.port === ECHO_PORT);
      assert.ok(echo.length >= 1, `port ${ECHO_PORT} among ${JSON.stringify(ports)}`);
      for (const p of echo) {
        assert.ok(p.family === 4 || p.family === 6, `family ${p.family}`);
        assert.equal(isIP(p.address), p.family, `address ${p.address} is an IPv${p.family} literal`);
        if (s.listenerProcess !== undefined) assert.equal(p.process, s.listenerProcess);
      }
      assert.ok(!ports.some((p) => p.port === CLOSED_PORT), "a port nothing listens on is not listed");
      const sorted = [...ports].sort((a, b) => a.port - b.port);
      assert.deepEqual(
        ports.map((p) => p.port),
        sorted.map((p) => p.port),
        "sorted by port",
      );
    });

    it("listPorts of an environment that is not running is ENV_NOT_RUNNING", async () => {
      await rejectsWithCode(s.api.listPorts(unknownId()), "ENV_NOT_RUNNING");
    });

    it("a dial to a port nothing listens on is DIAL_FAILED with ECONNREFUSED", async () => {
      const err = await rejectsWithCode(s.api.dial(spec.id, CLOSED_PORT), "DIAL_FAILED");
      const details = err.details as { errno?: string; port?: number } | undefined;
      assert.equal(details?.errno, "ECONNREFUSED");
      assert.equal(details?.port, CLOSED_PORT);
    });

    it("a dial into an environment that is not running is ENV_NOT_RUNNING", async () => {
      await rejectsWithCode(s.api.dial(unknownId(), ECHO_PORT), "ENV_NOT_RUNNING");
    });
  });
}
