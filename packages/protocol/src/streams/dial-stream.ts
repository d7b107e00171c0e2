// Dial streams: one TCP connection made inside an environment's network namespace, as raw bytes
// both ways. The runner refuses a stream it cannot connect (with the catalog code and the reason)
// before answering, so the control plane learns of a refused port as a failed open, not as a
// stream that closes at once.
import net from "node:net";
import type { Duplex } from "node:stream";
import { WarrenError } from "../errors.ts";
import type { RunnerApi } from "../runner.ts";
import type { StreamClient } from "./stream-client.ts";
import { StreamOpenError } from "./stream-client.ts";
import type { StreamMeta } from "./stream-headers.ts";
import type { StreamOpener } from "./stream-server.ts";

const ENV_ID = /^[a-z0-9]{1,128}$/;

function dialTarget(meta: StreamMeta): { env: string; port: number; host: string } {
  const env = meta["env"] ?? "";
  const port = Number(meta["port"]);
  const host = meta["host"] ?? "127.0.0.1";
  if (!ENV_ID.test(env)) throw new WarrenError("INVALID_ARGUMENT", "dial: env must be an environment id");
  if (!/^[0-9]{1,5}$/.test(meta["port"] ?? "") || port < 1 || port > 65535)
    throw new WarrenError("INVALID_ARGUMENT", "dial: port must be a number between 1 and 65535");
  if (net.isIP(host) === 0) throw new WarrenError("INVALID_ARGUMENT", "dial: host must be an IP address");
  return { env, port, host };
}

/**
 * Joins two byte streams both ways. An orderly end travels on (pipe ends the other side once its
 * buffered bytes are written); an abort or error on either side destroys both.
 */
export function splice(a: Duplex, b: Duplex): void {
  a.pipe(b);
  b.pipe(a);
  const abort = () => {
    a.destroy();
    b.destroy();
  };
  a.on("error", abort);
  b.on("error", abort);
  a.once("close", () => a.readableEnded || b.destroy());
  b.once("close", () => b.readableEnded || a.destroy());
}

/** The runner's handler for "dial" streams. */
export function dialOpener(api: Pick<RunnerApi, "dial">): StreamOpener {
  return {
    async open(meta) {
      const t = dialTarget(meta);
      const sock = await api.dial(t.env, t.port, t.host);
      return (stream) => splice(stream, sock);
    },
  };
}

/** The control plane's dial over a runner link. */
export async function dialOverStream(
  streams: StreamClient,
  env: string,
  port: number,
  host = "127.0.0.1",
): Promise<Duplex> {
  try {
    const stream = await streams.openStream("dial", { env, port: String(port), host });
    return stream;
  } catch (err) {
    if (err instanceof StreamOpenError && err.code) {
      const code = err.code as WarrenError["code"];
      throw WarrenError.fromBody({ code, message: err.message, details: { port, host, ...err.details } });
    }
    throw err;
  }
}
