// A prebuild's environment gets only the secrets its clone needs (the git credential, SSH key and
// known hosts), never the rest of its owner's, project's or organisation's: its hooks run the
// repository's code, and its disk becomes a template other members start from. Secrets live on
// a tmpfs and never reach the disk anyway; this keeps a hook from copying one onto it.
import {
  GIT_CREDENTIALS_SECRET,
  GIT_KNOWN_HOSTS_SECRET,
  GIT_SSH_KEY_SECRET,
  type SecretDelivery,
} from "@warren/protocol";
import type { EnvRow } from "../../store/queries/envs.ts";
import { parseSetup } from "../../store/queries/setups.ts";

const CLONE_SECRETS: ReadonlySet<string> = new Set([
  GIT_CREDENTIALS_SECRET,
  GIT_SSH_KEY_SECRET,
  GIT_KNOWN_HOSTS_SECRET,
]);

export function secretsForEnv(row: Pick<EnvRow, "setup">, secrets: SecretDelivery[]): SecretDelivery[] {
  if (!row.setup || !parseSetup(row)?.prebuild) return secrets;
  return secrets.filter((s) => CLONE_SECRETS.has(s.name));
}
