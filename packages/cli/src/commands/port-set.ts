// warren port set ENV PORT --visibility private|org|public: who may reach a port through the port
// proxy (private: the owner; org: the organisation's members; public: anyone, where the
// organisation allows it). Prints the port's URL.
import { PORT_VISIBILITIES, type PortVisibility, WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";

export function parsePortArg(port: string): number {
  const n = Number(port);
  if (!/^[0-9]{1,5}$/.test(port) || n < 1 || n > 65_535)
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid port "${port}": a TCP port is a number from 1 to 65535`,
    );
  return n;
}

function parseVisibility(v: string | undefined): PortVisibility {
  if (v === undefined) throw new WarrenError("INVALID_ARGUMENT", "give --visibility private, org or public");
  if (!(PORT_VISIBILITIES as readonly string[]).includes(v))
    throw new WarrenError("INVALID_ARGUMENT", `invalid --visibility "${v}": use private, org or public`);
  return v as PortVisibility;
}

const WHO: Record<PortVisibility, string> = {
  private: "you (the owner) only",
  org: "members of the organisation",
  public: "anyone",
};

export async function portSetCommand(
  env: string,
  port: string,
  opts: { visibility?: string; json?: boolean },
) {
  const n = parsePortArg(port);
  const visibility = parseVisibility(opts.visibility);
  const client = await connect();
  const p = await client.setEnvPort(env, n, { visibility });
  if (opts.json) printJson(p);
  else {
    process.stdout.write(`${env}:${p.port} is ${p.visibility}: ${WHO[p.visibility]}\n`);
    process.stdout.write(p.url ? `${p.url}\n` : "(this server runs no port proxy, so the port has no URL)\n");
  }
  return 0;
}
