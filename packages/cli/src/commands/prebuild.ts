// warren prebuild --repo URL [--branch B] [--every 6h] [--devcontainer PATH] [--json]: prebuild a
// repository's branch (clone, image build, Features, onCreateCommand and updateContentCommand) into
// a disk template that `warren up --repo` starts from. Returns once the run has started; `warren
// prebuild ls` shows when it is ready. Also `ls` and `rm` (prebuild-ls.ts).
import { escapeControlChars, type Prebuild, WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { formatAge, printJson, renderTable } from "../format.ts";

export interface PrebuildOptions {
  repo?: string;
  branch?: string;
  every?: string;
  devcontainer?: string;
  json?: boolean;
}

export async function prebuildCommand(o: PrebuildOptions): Promise<number> {
  if (!o.repo) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "give the repository to prebuild: warren prebuild --repo https://host/owner/repo.git [--branch main] [--every 6h]",
    );
  }
  const client = await connect();
  const pb = await client.createPrebuild({
    repo: o.repo,
    ...(o.branch ? { branch: o.branch } : {}),
    ...(o.every ? { every: o.every } : {}),
    ...(o.devcontainer ? { devcontainerPath: o.devcontainer } : {}),
  });
  if (o.json) printJson(pb);
  else
    process.stdout.write(
      `prebuild ${pb.id} of ${pb.repo}${pb.branch ? ` (${pb.branch})` : ""}: ${pb.state}; \`warren prebuild ls\` shows when it is ready\n`,
    );
  return 0;
}

export function prebuildTable(items: Prebuild[], now = Date.now()): string {
  if (items.length === 0) return "(no prebuilds: an admin makes one with `warren prebuild --repo URL`)\n";
  const rows = items.map((p) => [
    p.id,
    p.repo,
    p.branch || "(default)",
    p.state,
    p.commit ? p.commit.slice(0, 12) : "-",
    p.builtAt ? formatAge(p.builtAt, now) : "-",
    p.everySeconds ? `${Math.round(p.everySeconds / 60)}m` : "-",
    p.message ? escapeControlChars(p.message).slice(0, 120) : "",
  ]);
  return renderTable(["ID", "REPO", "BRANCH", "STATE", "COMMIT", "BUILT", "EVERY", "MESSAGE"], rows);
}

export async function prebuildLsCommand(o: { json?: boolean }): Promise<number> {
  const client = await connect();
  const items = await client.listPrebuilds();
  if (o.json) printJson(items);
  else process.stdout.write(prebuildTable(items));
  return 0;
}

export async function prebuildRmCommand(idOrRepo: string, o: { branch?: string }): Promise<number> {
  const client = await connect();
  await client.removePrebuild(idOrRepo, o.branch);
  process.stdout.write(`removed the prebuild of ${idOrRepo}${o.branch ? ` (${o.branch})` : ""}\n`);
  return 0;
}
