// The options every environment gets, composed in one place. Callers append their own options
// after these (later options win), e.g. a different process for image builds.
import type { IdMap } from "../storage/types.ts";
import { withHostname, withRootfs } from "./build.ts";
import { DEFAULT_CAPABILITIES, withCapabilities } from "./capabilities.ts";
import { withCgroupsPath, withResources } from "./cgroups.ts";
import { hostHardLimits } from "./host-limits.ts";
import { withBindMount, withDefaultMounts, withMaskedPaths, withReadonlyPaths, withTmpfs } from "./mounts.ts";
import { withNamespaces, withUserNamespace } from "./namespaces.ts";
import {
  clampRlimits,
  DEFAULT_RLIMITS,
  withNoNewPrivileges,
  withOomScores,
  withProcess,
  withRlimits,
} from "./process.ts";
import { withSeccomp } from "./seccomp.ts";
import type { OciRlimit, SpecOption } from "./types.ts";

/** Where warren-init appears inside every environment. */
export const INIT_PATH_IN_CONTAINER = "/.warren/init";
/** Where warren-relay (unix-socket plumbing for SSH: agent, streamlocal) appears, when given. */
export const RELAY_PATH_IN_CONTAINER = "/.warren/relay";
/** Where warren-supervise (the automations' services and tasks) appears, when given. */
export const SUPERVISE_PATH_IN_CONTAINER = "/.warren/supervise";
export const WORKSPACES_DIR = "/workspaces";

export interface EnvSpecInput {
  rootfs: string;
  readonlyRootfs?: boolean;
  hostname: string;
  idMap: IdMap;
  /** Absolute cgroup path, e.g. /warren/warren-ab12. */
  cgroupsPath: string;
  /** Host path of the static warren-init binary. */
  initBinary: string;
  /** Host path of the static warren-relay binary; bound read-only beside init when set. */
  relayBinary?: string;
  /** Host path of the static warren-supervise binary; bound read-only beside init when set. */
  superviseBinary?: string;
  /** Arguments after `warren-init --`; none means init just waits and reaps. */
  command?: string[];
  env?: string[];
  cwd?: string;
  /** Host directory bound read-write at /workspaces. */
  workspaceDir?: string;
  networkPath?: string;
  resources?: Record<string, unknown>;
  rlimits?: readonly OciRlimit[];
  /** Host hard limits to clamp rlimits to; read from /proc/self/limits when omitted. */
  hostHardLimits?: Record<string, number>;
  /** A tmpfs at /tmp (for read-only roots). */
  tmpfsTmp?: boolean;
}

export function defaultEnvSpecOptions(input: EnvSpecInput): SpecOption[] {
  const args = [INIT_PATH_IN_CONTAINER, ...(input.command?.length ? ["--", ...input.command] : [])];
  const rlimits = clampRlimits(input.rlimits ?? DEFAULT_RLIMITS, input.hostHardLimits ?? hostHardLimits());
  const opts: SpecOption[] = [
    withRootfs(input.rootfs, input.readonlyRootfs ?? false),
    withHostname(input.hostname),
    withProcess({ args, env: input.env ?? [], cwd: input.cwd ?? "/" }),
    withOomScores(),
    withNoNewPrivileges(false),
    withRlimits(rlimits),
    withCapabilities(DEFAULT_CAPABILITIES),
    withNamespaces(input.networkPath ? { networkPath: input.networkPath } : {}),
    withUserNamespace(input.idMap),
    withDefaultMounts(),
    withBindMount(input.initBinary, INIT_PATH_IN_CONTAINER, {
      readonly: true,
      recursive: false,
      extra: ["nosuid", "nodev"],
    }),
    withMaskedPaths(),
    withReadonlyPaths(),
    withCgroupsPath(input.cgroupsPath),
    withSeccomp(),
  ];
  if (input.relayBinary) {
    opts.push(
      withBindMount(input.relayBinary, RELAY_PATH_IN_CONTAINER, {
        readonly: true,
        recursive: false,
        extra: ["nosuid", "nodev"],
      }),
    );
  }
  if (input.superviseBinary) {
    opts.push(
      withBindMount(input.superviseBinary, SUPERVISE_PATH_IN_CONTAINER, {
        readonly: true,
        recursive: false,
        extra: ["nosuid", "nodev"],
      }),
    );
  }
  if (input.tmpfsTmp) opts.push(withTmpfs("/tmp"));
  if (input.workspaceDir) opts.push(withBindMount(input.workspaceDir, WORKSPACES_DIR, { readonly: false }));
  if (input.resources) opts.push(withResources(input.resources));
  return opts;
}
