// warren secret set|ls|rm and warren admin rotate-key. A value is never an argument (arguments
// show up in `ps` and shell history): it is read from stdin or typed without echo.
import { type SecretScope, secretNameProblem, secretPathProblem, WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { formatAge, printJson, renderTable } from "../format.ts";
import { prompt, readStdin } from "../secret-input.ts";

interface ScopeOpts {
  scope?: string;
  project?: string;
}

function scopeOf(opts: ScopeOpts): SecretScope {
  const scope = (opts.scope ?? "user") as SecretScope;
  if (!["org", "user", "project"].includes(scope))
    throw new WarrenError("INVALID_ARGUMENT", `--scope must be org, user or project, not "${opts.scope}"`);
  if (scope === "project" && !opts.project)
    throw new WarrenError("INVALID_ARGUMENT", "--scope project needs --project URL");
  if (scope !== "project" && opts.project)
    throw new WarrenError("INVALID_ARGUMENT", "--project goes with --scope project");
  return scope;
}

/** --allow values as the API takes them: undefined (unchanged), null (lifted) or the entries. */
function allowOf(raw: string[] | undefined, scope: SecretScope): string[] | null | undefined {
  if (raw === undefined) return undefined;
  if (scope !== "project")
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "--allow goes with --scope project (org and user secrets have no allow list)",
    );
  const entries = raw.map((e) => e.trim()).filter((e) => e !== "");
  if (entries.length === 1 && entries[0] === "any") return null;
  const bad = entries.find((e) => !/^(user|role):.+$/.test(e));
  if (bad !== undefined || entries.length === 0)
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `--allow takes user:NAME or role:member|admin|owner (or \`any\` alone, to lift a restriction), not "${bad ?? ""}"`,
    );
  return entries;
}

export async function secretSetCommand(
  name: string,
  opts: ScopeOpts & {
    env?: boolean;
    file?: string | boolean;
    valueStdin?: boolean;
    json?: boolean;
    allow?: string[];
  },
) {
  const asFile = opts.file !== undefined && opts.file !== false;
  if (opts.env && asFile)
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "pick one of --env (a variable) or --file [PATH] (a file), not both",
    );
  if (!opts.env && !asFile)
    throw new WarrenError("INVALID_ARGUMENT", "say how to deliver it: --env or --file [PATH]");
  const problem =
    secretNameProblem(name, opts.env ? "env" : "file") ??
    (typeof opts.file === "string" ? secretPathProblem(opts.file) : undefined);
  if (problem) throw new WarrenError("INVALID_ARGUMENT", problem);
  const scope = scopeOf(opts);
  const allow = allowOf(opts.allow, scope);
  let value: string;
  if (opts.valueStdin) value = (await readStdin()).replace(/\r?\n$/, "");
  else if (process.stdin.isTTY) value = await prompt("Value: ", { echo: false });
  else
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "no terminal to ask for the value: pipe it in with --value-stdin",
    );
  if (value === "") throw new WarrenError("INVALID_ARGUMENT", "the value is empty");
  const client = await connect();
  const info = await client.setSecret(scope, name, {
    value,
    kind: opts.env ? "env" : "file",
    ...(typeof opts.file === "string" ? { path: opts.file } : {}),
    ...(opts.project ? { project: opts.project } : {}),
    ...(allow !== undefined ? { allow } : {}),
  });
  if (opts.json) printJson(info);
  else
    process.stdout.write(
      `stored ${info.scope} secret ${info.name} (${info.kind}${info.path ? ` ${info.path}` : ""})${info.allow ? `, only for ${info.allow.join(", ")}` : ""}\n`,
    );
  return 0;
}

export async function secretLsCommand(opts: { json?: boolean }) {
  const client = await connect();
  const items = await client.listSecrets();
  if (opts.json) printJson(items);
  else
    process.stdout.write(
      renderTable(
        ["NAME", "SCOPE", "KIND", "WHERE", "UPDATED"],
        items.map((s) => [
          s.name,
          s.scope === "project"
            ? `project ${s.project}${s.allow ? ` (only ${s.allow.join(", ")})` : ""}`
            : s.scope === "user"
              ? `user ${s.user}`
              : "org",
          s.kind,
          s.kind === "file" ? (s.path ?? "") : `$${s.name}`,
          formatAge(s.updatedAt),
        ]),
      ),
    );
  return 0;
}

export async function secretRmCommand(name: string, opts: ScopeOpts) {
  const scope = scopeOf(opts);
  const client = await connect();
  const { removed } = await client.removeSecret(scope, name, opts.project);
  if (!removed) throw new WarrenError("NOT_FOUND", `no ${scope} secret named ${name}`);
  process.stdout.write(`removed ${scope} secret ${name}\n`);
  return 0;
}

export async function rotateKeyCommand(opts: { json?: boolean }) {
  const client = await connect();
  const counts = await client.rotateKey();
  if (opts.json) printJson(counts);
  else
    process.stdout.write(
      `re-encrypted ${counts.secrets} secret(s) and ${counts.registryLogins} registry login(s) under new keys\n`,
    );
  return 0;
}
