// The configuration warren-supervise reads on stdin (runner/native/warren-supervise.c): one
// "key value" per line, values with backslash, newline and tab escaped, so the C side needs no
// JSON or YAML parser. Generated here from checked automations; the supervisor checks it again.
import { AUTOMATION_NAME_RE, type Automations, WarrenError } from "@warren/protocol";

/** As warren-supervise's limits. */
export const MAX_SUPERVISOR_CONFIG_BYTES = 1024 * 1024;
const MAX_VALUE_BYTES = 16 * 1024;
const MAX_ENV = 64;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const USER_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export interface SupervisorOptions {
  /** Who services and tasks run as (a name or uid in the environment's /etc/passwd); default root. */
  user?: string;
  /** Their working directory (the workspace folder). */
  cwd: string;
  /** Extra environment (remoteEnv), after the environment's own. */
  env?: Record<string, string>;
}

export function escapeValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\t/g, "\\t");
}

function bad(message: string, field: string): never {
  throw new WarrenError("INVALID_ARGUMENT", message, { field });
}

function value(v: string, what: string): string {
  if (v.includes("\0") || v.includes("\r")) bad(`${what} contains a NUL or carriage return`, what);
  const e = escapeValue(v);
  if (Buffer.byteLength(e) > MAX_VALUE_BYTES) bad(`${what} is longer than the supervisor takes`, what);
  return e;
}

function name(n: string): string {
  if (!AUTOMATION_NAME_RE.test(n)) bad(`invalid service or task name "${n}"`, "dependsOn");
  return n;
}

export function supervisorConfig(a: Automations, o: SupervisorOptions): string {
  const lines = ["version 1"];
  if (o.user !== undefined) {
    if (!USER_RE.test(o.user)) bad(`invalid user "${o.user}" for automations: a user name or uid`, "user");
    lines.push(`user ${o.user}`);
  }
  if (!o.cwd.startsWith("/")) bad(`automations' working directory must be absolute, not "${o.cwd}"`, "cwd");
  lines.push(`cwd ${value(o.cwd, "cwd")}`);
  const env = Object.entries(o.env ?? {});
  if (env.length > MAX_ENV) bad(`automations take at most ${MAX_ENV} environment variables`, "env");
  for (const [k, v] of env) {
    if (!ENV_NAME_RE.test(k)) bad(`invalid environment variable name "${k}"`, "env");
    lines.push(`env ${value(`${k}=${v}`, `env ${k}`)}`);
  }
  for (const s of a.services) {
    if (!AUTOMATION_NAME_RE.test(s.name)) bad(`invalid service name "${s.name}"`, "services");
    lines.push(`service ${s.name}`, `command ${value(s.command, `services.${s.name}.command`)}`);
    lines.push(`restart ${s.restart}`);
    if (s.ready && "command" in s.ready)
      lines.push(`ready-command ${value(s.ready.command, `services.${s.name}.ready.command`)}`);
    if (s.ready && "port" in s.ready) lines.push(`ready-port ${Math.trunc(s.ready.port)}`);
    for (const d of s.dependsOn) lines.push(`depends ${name(d)}`);
  }
  for (const t of a.tasks) {
    if (!AUTOMATION_NAME_RE.test(t.name)) bad(`invalid task name "${t.name}"`, "tasks");
    lines.push(`task ${t.name}`, `command ${value(t.command, `tasks.${t.name}.command`)}`);
    for (const d of t.dependsOn) lines.push(`depends ${name(d)}`);
    for (const tr of t.triggeredBy) lines.push(`trigger ${tr}`);
  }
  const text = `${lines.join("\n")}\n`;
  if (Buffer.byteLength(text) > MAX_SUPERVISOR_CONFIG_BYTES)
    bad("the automations are larger than the supervisor takes", "automations");
  return text;
}
