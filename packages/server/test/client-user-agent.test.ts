// The API client names itself: every HTTP request and WebSocket upgrade, over TLS and over the
// local socket, carries `User-Agent: warren-cli/<version>`, the version `warren version` prints.
// The server shows that string to people (the device-flow confirmation page), where Node's
// default would say "node".
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, test } from "node:test";
import {
  CLIENT_USER_AGENT,
  createClient,
  type Transport,
  tlsTransport,
  unixTransport,
  WARREN_VERSION,
} from "@warren/protocol";
import { tempDir } from "@warren/testing/server-harness";
import WebSocket, { WebSocketServer } from "ws";
import { loadOrCreateCertificate } from "../src/http/tls-cert.ts";

const tmp = tempDir("warren-ua-");
after(() => tmp.cleanup());

const cliPackage = JSON.parse(readFileSync(new URL("../../cli/package.json", import.meta.url), "utf8")) as {
  version: string;
};

/** Answers /health like a daemon and records the headers of every request and upgrade. */
function recorder(server: Server): IncomingHttpHeaders[] {
  const seen: IncomingHttpHeaders[] = [];
  server.on("request", (req, res) => {
    seen.push(req.headers);
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ status: "ok", version: WARREN_VERSION }));
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    seen.push(req.headers);
    wss.handleUpgrade(req, socket, head, (ws) => ws.close(1000, "seen"));
  });
  return seen;
}

async function upgrade(t: Transport): Promise<void> {
  const { url, options } = t.webSocket("/api/v1/ping");
  const ws = new WebSocket(url, options);
  await new Promise<void>((resolve, reject) => {
    ws.on("close", () => resolve());
    ws.on("error", reject);
  });
}

test("the User-Agent is warren-cli/<the CLI's version>", () => {
  assert.equal(WARREN_VERSION, cliPackage.version, "protocol version.ts follows packages/cli/package.json");
  assert.equal(CLIENT_USER_AGENT, `warren-cli/${cliPackage.version}`);
});

test("requests and upgrades over TLS carry it", async () => {
  const material = await loadOrCreateCertificate({ root: tmp.dir, listenHost: "127.0.0.1" });
  const server = createHttpsServer({ cert: material.cert, key: material.key });
  const seen = recorder(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  after(() => server.close());
  const transport = tlsTransport({
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    fingerprint: material.fingerprint,
    token: "wrn_example",
  });
  await createClient({ transport }).health();
  await upgrade(transport);
  assert.equal(seen.length, 2);
  for (const h of seen) {
    assert.equal(h["user-agent"], CLIENT_USER_AGENT);
    assert.equal(h.authorization, "Bearer wrn_example", "the token still goes along");
  }
});

test("requests and upgrades over the local socket carry it", async () => {
  const socketPath = path.join(tmp.dir, "ua.sock");
  const server = createHttpServer();
  const seen = recorder(server);
  await new Promise<void>((r) => server.listen(socketPath, r));
  after(() => server.close());
  await createClient({ socketPath }).health();
  await upgrade(unixTransport(socketPath));
  assert.equal(seen.length, 2);
  for (const h of seen) assert.equal(h["user-agent"], CLIENT_USER_AGENT);
});
