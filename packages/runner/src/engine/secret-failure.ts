// What a failed secret delivery tells the user: which secret (its name and where it goes, never
// its value) and why, as a terminal error. Terminal because a retry delivers the same secret the
// same way; the controller then marks the environment failed instead of restarting it in a loop,
// and the caller has already taken the container down, so nothing runs without its secrets.
import { SECRETS_DIR, SECRETS_ENV_FILE, type SecretDelivery, WarrenError } from "@warren/protocol";

const MIN_SCRUB = 4;

/** Where a secret lands inside the environment. */
function target(s: SecretDelivery): string {
  return s.kind === "env" ? SECRETS_ENV_FILE : (s.path ?? `${SECRETS_DIR}/${s.name}`);
}

function base(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

/** The error's text without any secret value in it (a reason may quote what was written). */
export function scrubValues(text: string, secrets: readonly SecretDelivery[]): string {
  let out = text;
  const values = secrets.map((s) => s.value).filter((v) => v.length >= MIN_SCRUB);
  for (const v of values.sort((a, b) => b.length - a.length)) out = out.replaceAll(v, "***");
  return out;
}

/** Names the secrets an error is about, from the target paths or names its message mentions. */
export function culprits(message: string, secrets: readonly SecretDelivery[]): SecretDelivery[] {
  const named = (s: SecretDelivery) => {
    const t = target(s);
    return (
      message.includes(t) || new RegExp(`(^|[^\\w.-])${escapeRegExp(base(t))}($|[^\\w.-])`).test(message)
    );
  };
  return secrets.filter(named);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function describe(list: readonly SecretDelivery[]): string {
  const env = list.filter((s) => s.kind === "env");
  const files = list.filter((s) => s.kind !== "env");
  const parts = files.map((s) => `secret "${s.name}" (file ${target(s)})`);
  if (env.length === 1) parts.push(`secret "${env[0]!.name}" (variable, in ${SECRETS_ENV_FILE})`);
  else if (env.length > 1)
    parts.push(`the variable secrets ${env.map((s) => `"${s.name}"`).join(", ")} (in ${SECRETS_ENV_FILE})`);
  return parts.join(" and ");
}

/** The terminal error for a delivery that failed; `envName` is what the user types. */
export function secretDeliveryFailure(
  envName: string,
  secrets: readonly SecretDelivery[],
  err: unknown,
): WarrenError {
  const raw = err instanceof Error ? err.message : String(err);
  const reason = scrubValues(raw, secrets);
  const named = culprits(raw, secrets);
  const which =
    named.length > 0
      ? describe(named)
      : `one of its secrets (${secrets.map((s) => `"${s.name}"`).join(", ")})`;
  return new WarrenError(
    "SECRET_DELIVERY_FAILED",
    `${which} could not be delivered: ${reason}. The environment was stopped, not started without it; fix or remove the secret (\`warren secret ls\`), then run \`warren start ${envName}\``,
    { secrets: named.map((s) => s.name) },
  );
}
