// keepAlive() on a real WebSocket pair over loopback: a peer that answers pings stays connected;
// one that stops reading (a host that vanished without closing) is terminated.
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { WebSocket, WebSocketServer } from "ws";
import { keepAlive } from "../src/ws-heartbeat.ts";

async function pair() {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => wss.once("listening", r));
  const accepted = new Promise<WebSocket>((r) => wss.once("connection", r));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  await new Promise((r) => client.once("open", r));
  return { wss, client, server: await accepted };
}

test("a peer that answers pings stays; one that stops reading is terminated", async () => {
  const { wss, client, server } = await pair();
  try {
    let closed = false;
    server.on("close", () => {
      closed = true;
    });
    keepAlive(server, 40);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(closed, false, "pongs keep it open");
    // The client's host "vanishes": its socket stops reading, so pings go unanswered.
    (client as unknown as { _socket: { pause(): void } })._socket.pause();
    const t0 = Date.now();
    while (!closed) {
      assert.ok(Date.now() - t0 < 2000, "terminated within a few intervals");
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    client.terminate();
    wss.close();
  }
});
