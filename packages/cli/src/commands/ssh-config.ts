// warren ssh-config [--write] [--ssh-config FILE] [-i FILE] [--json]: the OpenSSH client config
// that makes `ssh ENV.warren` (and so scp, rsync, VS Code Remote-SSH, JetBrains Gateway) reach
// every environment the caller can see through the SSH gateway. Printed, or installed between
// markers with --write. Either way the gateway's host key is pinned in the known_hosts file
// Warren manages, which the block names.
import { NAME_RE, WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";
import { defaultSshConfigPath, sshConfigBlock, sshHosts, writeSshConfig } from "../ssh-config-file.ts";
import { resolveSshTarget } from "../ssh-target.ts";

export interface SshConfigOptions {
  write?: boolean;
  sshConfig?: string;
  identity?: string;
  json?: boolean;
}

export async function sshConfigCommand(opts: SshConfigOptions) {
  if (opts.sshConfig !== undefined && !opts.write) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      "--ssh-config names the file that --write installs into; add --write (or leave both out to print)",
    );
  }
  const client = await connect();
  const target = await resolveSshTarget(client);
  const names: string[] = [];
  for (const env of await client.listEnvironments()) {
    // A name goes into the config file: one that is not a plain name is never written there.
    if (NAME_RE.test(env.name)) names.push(env.name);
    else
      process.stderr.write(
        `warren: skipped an environment with a malformed name: ${JSON.stringify(env.name)}\n`,
      );
  }
  const hosts = sshHosts(target, names);
  const block = sshConfigBlock(target, hosts, opts.identity !== undefined ? { identity: opts.identity } : {});
  const file = opts.write ? (opts.sshConfig ?? defaultSshConfigPath()) : undefined;
  const changed = file !== undefined ? writeSshConfig(file, target.context, block).changed : undefined;

  if (opts.json) {
    printJson({
      context: target.context,
      hostKey: target.hostKey,
      fingerprint: target.fingerprint,
      knownHostsFile: target.knownHostsFile,
      ...(file !== undefined ? { sshConfig: file, changed } : {}),
      hosts,
    });
  } else if (file === undefined) {
    process.stdout.write(block);
  } else {
    const what = hosts.length === 1 ? "1 environment" : `${hosts.length} environments`;
    const example = hosts[0] ? `; connect with \`ssh ${hosts[0].alias}\`` : "";
    process.stdout.write(
      changed
        ? `wrote ${what} of context "${target.context}" to ${file}${example}\n`
        : `${file} is up to date (${what} of context "${target.context}")${example}\n`,
    );
  }
  return 0;
}
