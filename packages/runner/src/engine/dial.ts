// A connection from inside a running environment's network namespace (network/dial.ts), for the
// SSH gateway's direct-tcpip, port-forward and the port proxy. The socket lives in the
// environment's netns, so 127.0.0.1 is the environment's own and anything else leaves through its
// veth and egress policy: the host's loopback (the API, the runner) is unreachable from it.
import type { Duplex } from "node:stream";
import { WarrenError } from "@warren/protocol";
import { hostNames } from "../host/names.ts";
import { netnsPath, networkConfig } from "../network/addr.ts";
import { dialInEnv } from "../network/dial.ts";
import { readHandle } from "../state/handle.ts";
import type { EngineContext } from "./context.ts";

export async function dialEnv(
  ctx: EngineContext,
  id: string,
  port: number,
  host = "127.0.0.1",
): Promise<Duplex> {
  const names = hostNames(ctx.cfg, id);
  const handle = await readHandle(names.handleFile);
  const rt = handle ? ctx.runtimes.get(handle.spec.runtime) : undefined;
  const st = rt ? await rt.state(names.containerId) : null;
  if (!handle || st?.status !== "running") {
    throw new WarrenError(
      "ENV_NOT_RUNNING",
      "the environment is not running; start it with `warren start NAME`",
    );
  }
  try {
    return await dialInEnv(netnsPath(networkConfig(ctx.cfg), id), port, host);
  } catch (err) {
    if (err instanceof WarrenError) throw err;
    const e = err as NodeJS.ErrnoException;
    const errno = e.code ?? "EIO";
    const hint =
      errno === "ECONNREFUSED"
        ? `nothing listens on ${host}:${port} inside ${handle.spec.name}; start the server there, bound to 127.0.0.1 or 0.0.0.0`
        : `${host}:${port} inside ${handle.spec.name}: ${e.message}`;
    throw new WarrenError("DIAL_FAILED", hint, { errno, port, host });
  }
}
