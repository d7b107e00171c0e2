// Warren's resolver as its own process, so bench/dns can pin it to one CPU like dnsmasq.
// node bench/dns/warren-server.ts --host 127.0.0.1 --port P --upstream 127.0.0.1:U
import { parseArgs } from "node:util";
import { createResolver } from "@warren/runner";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "0" },
    upstream: { type: "string", multiple: true, default: [] },
    cache: { type: "string", default: "10000" },
  },
});
const res = createResolver({
  listen: [{ host: values.host!, port: Number(values.port) }],
  upstreams: values.upstream!,
  cacheSize: Number(values.cache),
});
await res.start();
// The bench reads this line to know the server is up; stats go out on SIGUSR2 for the report.
console.log(`READY ${res.addresses()[0]!.port}`);
process.on("SIGUSR2", () => console.log(`STATS ${JSON.stringify(res.stats())}`));
process.on("SIGTERM", () => void res.close().then(() => process.exit(0)));
