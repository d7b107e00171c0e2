// The runner as the rest of the control plane sees it, with secrets added and masked:
// - ensureRunning carries the secrets that apply to the environment in RunnerEnvSpec.secrets:
//   its organisation's, its project's (only if it has one; migration 012) and its owner's user
//   secrets, the most specific winning a name or path (user > project > org; secrets.ts).
//   Every other call gets the spec without them.
// - Log streams and events pass through maskSecrets(), so a value delivered to the environment
//   never reaches a client or the event log in plain text. Only the values that environment was
//   given are masked: masking every organisation's would let one tenant's logs confirm another's.
// Both decrypt, which only the system may do: this wrapper acts as system("secret-delivery").
import type { RunnerApi, RunnerEnvSpec } from "@warren/protocol";
import { secretsForEnv } from "../controllers/setup/prebuild-secrets.ts";
import type { Db } from "../store/db.ts";
import { getEnvById } from "../store/queries/envs.ts";
import { system } from "./actor.ts";
import { isPoolMember } from "./pool-owner.ts";
import { ownershipOf } from "./scope.ts";
import type { EnvSecretsKey, SecretService } from "./secrets.ts";

export const MASK = "********";

const DELIVERY = system("secret-delivery");

export function maskSecrets(text: string, values: readonly string[]): string {
  let out = text;
  for (const v of values) if (v && out.includes(v)) out = out.split(v).join(MASK);
  return out;
}

export function withSecrets(runner: RunnerApi, o: { db: Db; secrets: SecretService }): RunnerApi {
  /** The values delivered to environment `id` (none when it is gone). */
  const valuesFor = async (id: string): Promise<string[]> => {
    const row = await getEnvById(o.db, id);
    if (!row) return [];
    const own = ownershipOf(row);
    const key: EnvSecretsKey = {
      orgId: own.org_id,
      ownerId: own.owner_id,
      project: row.project ?? undefined,
    };
    return o.secrets.knownValues(DELIVERY, key);
  };
  const strip = (spec: RunnerEnvSpec): RunnerEnvSpec => {
    const { secrets: _s, ...rest } = spec;
    return rest;
  };
  const overrides: Partial<RunnerApi> = {
    async ensureRunning(spec) {
      const row = await getEnvById(o.db, spec.id);
      const base = strip(spec);
      // An unclaimed warm-pool member gets no secrets; the claim delivers its new owner's.
      if (!row || isPoolMember(row)) return runner.ensureRunning(base);
      const own = ownershipOf(row);
      const secrets = secretsForEnv(
        row,
        await o.secrets.forEnv(DELIVERY, own.org_id, own.owner_id, row.project ?? undefined),
      );
      return runner.ensureRunning(secrets.length > 0 ? { ...base, secrets } : base);
    },
    ensureStopped: (spec, graceMs) => runner.ensureStopped(strip(spec), graceMs),
    setResources: (spec) => runner.setResources(strip(spec)),
    logs(id, opts, onData) {
      // Chunks wait (in order) until the values are loaded. A value split across two chunks of
      // a follow stream is not caught; whole reads (no follow) arrive as one chunk per read.
      let values: string[] | undefined;
      const pending: string[] = [];
      const loaded = valuesFor(id)
        .catch(() => [] as string[])
        .then((v) => {
          values = v;
          for (const c of pending.splice(0)) onData(maskSecrets(c, v));
        });
      const stream = runner.logs(id, opts, (chunk) => {
        if (values) onData(maskSecrets(chunk, values));
        else pending.push(chunk);
      });
      return { done: stream.done.then(() => loaded), close: () => stream.close() };
    },
    async appendEvent(id, message) {
      const values = await valuesFor(id).catch(() => [] as string[]);
      return runner.appendEvent(id, maskSecrets(message, values));
    },
  };
  return new Proxy(runner, {
    get(target, prop, receiver) {
      const own = (overrides as Record<PropertyKey, unknown>)[prop];
      if (own !== undefined) return own;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
