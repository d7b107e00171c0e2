// A reference row for bench/proxy, not a peer: the least a node:http reverse proxy costs here.
// node's http server, one keep-alive http.Agent to the backend at the environment's IP, the body
// piped, no routing, lookups or header rewriting. Warren's proxy minus this is what its own work
// (host routing, visibility and session checks, header hygiene, the in-netns dial) costs.
//
// Run as a child by run.ts: node bench/proxy/node-floor.ts LISTEN_PORT BACKEND_HOST BACKEND_PORT
import http from "node:http";

const [listenPort, backendHost, backendPort] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 64, scheduling: "lifo" });

const server = http.createServer({ keepAliveTimeout: 300_000 }, (req, res) => {
  const up = http.request(
    {
      agent,
      host: backendHost,
      port: Number(backendPort),
      method: req.method,
      path: req.url,
      headers: req.headers,
    },
    (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      ures.pipe(res);
    },
  );
  up.on("error", () => res.destroy());
  req.pipe(up);
});
server.listen(Number(listenPort), "127.0.0.1", () => process.stdout.write("listening\n"));
process.on("SIGTERM", () => process.exit(0));
