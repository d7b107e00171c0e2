// Who a connecting runner is, within its organisation. Its id is its token's; its name is what it
// reports (`warren runner --name`, default its hostname as a DNS label), unique among the
// organisation's runners; its host id is a random id it keeps in its state root.
//
// Another runner row of the organisation with the same host id is the same host back under a new
// token: its environments (and their disks, slots and uid blocks) move to the new id and the old
// row goes. A row with the same name is:
// - connected (a live replica holds it): refused, naming the other runner: two hosts must not share
//   a name, and `warren fleet cordon NAME` must mean one host;
// - gone, and one side has no host id (a runner from before host ids): taken as the same host,
//   as before runners had names (a re-token on the same host keeps its environments);
// - gone, on another host (both host ids known and different): its row is dropped if it holds no
//   environment; otherwise refused, because its environments' disks are on that other host.
//
// A runner token binds to the first host that uses it: its row keeps that host's id, and a hello
// from any other host id under the same token is refused. A leaked token is then no way in beside
// the host it was made for, and a token the autoscaler mints for one new host serves that host only.
import type { RunnerInfo } from "@warren/protocol";
import type { Namesake } from "../store/queries/runners.ts";

/** A connection refused for who it claims to be; the message is the WebSocket close reason. */
export class AttachRefused extends Error {}

/** The hostname as a DNS label: lower case, other characters as '-', at most 63. */
export function defaultRunnerName(hostname: string): string {
  const label = hostname
    .toLowerCase()
    .split(".")[0]!
    .replace(/[^a-z0-9-]/g, "-")
    .slice(0, 63)
    .replace(/^-+|-+$/g, "");
  return label || "runner";
}

export function runnerName(info: RunnerInfo): string {
  return info.name ?? defaultRunnerName(info.hostname);
}

export interface IdentityPlan {
  /** Old runner ids whose environments move to the connecting runner. */
  moveFrom: string[];
  /** Old runner ids whose rows are dropped (after the moves). */
  forget: string[];
  /** Old runner ids this replica holds that must be closed first (the same host, replaced). */
  replace: string[];
}

/**
 * What attaching `runnerId` does to the organisation's other runner rows that share its name or host
 * id; throws AttachRefused when it must not attach. `live(n)` says whether a namesake is connected
 * (held here, or held by a replica that refreshed it recently); `heldHere(id)` whether this replica
 * holds it.
 */
export function planIdentity(p: {
  name: string;
  hostId: string | undefined;
  namesakes: Namesake[];
  live: (n: Namesake) => boolean;
  heldHere: (id: string) => boolean;
}): IdentityPlan {
  const plan: IdentityPlan = { moveFrom: [], forget: [], replace: [] };
  for (const other of p.namesakes) {
    const sameHost = p.hostId !== undefined && other.hostId === p.hostId;
    if (p.live(other)) {
      if (sameHost && p.heldHere(other.id)) {
        plan.replace.push(other.id);
      } else if (sameHost) {
        throw new AttachRefused(
          `this host is connected as runner ${other.id} via another replica; retry once that link drops`,
        );
      } else {
        throw new AttachRefused(
          `name ${p.name} is used by connected runner ${other.id}; start this one with --name`,
        );
      }
    } else if (!sameHost && other.hostId !== null && p.hostId !== undefined && other.envs > 0) {
      throw new AttachRefused(
        `name ${p.name} belongs to lost runner ${other.id} on another host (${other.envs} envs); use --name`,
      );
    } else if (!sameHost && other.hostId !== null && p.hostId !== undefined) {
      plan.forget.push(other.id);
      continue;
    }
    plan.moveFrom.push(other.id);
    plan.forget.push(other.id);
  }
  return plan;
}

/** The host a runner token is bound to: its row's host id and the names it is shown by. */
export interface TokenBinding {
  hostId: string | null;
  name: string | null;
  hostname: string;
}

/**
 * Refuses a hello whose host id is not the one the token's row is bound to (a row without a host
 * id binds nothing: a new token, or a runner from before host ids). The reason names the bound host
 * by its runner name, never by its id: the id is what the binding checks, so a caller holding a
 * leaked token must not learn it from the refusal.
 */
export function checkTokenBinding(bound: TokenBinding | undefined, hostId: string | undefined): void {
  if (!bound?.hostId || bound.hostId === hostId) return;
  const name = bound.name ?? defaultRunnerName(bound.hostname);
  // A close reason holds 123 bytes: a long name is cut, the fix is not.
  const host = name.length > 24 ? `${name.slice(0, 22)}..` : name;
  throw new AttachRefused(
    `this runner token is already bound to host ${host}; mint a new one with \`warren admin runner-token create\``,
  );
}
