// Builds an OCI runtime spec from small composable options, like containerd's oci.SpecOpts:
// each with*() option changes one concern, so callers (environments, builds, tests) pick only
// what they need and the defaults live in one place (defaults.ts).
import type { OciSpec, SpecOption } from "./types.ts";

export const OCI_VERSION = "1.0.2";
export const DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** A spec with nothing but the required fields; options fill in the rest. */
export function emptySpec(): OciSpec {
  return {
    ociVersion: OCI_VERSION,
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: [], env: [DEFAULT_PATH_ENV], cwd: "/" },
    root: { path: "rootfs", readonly: false },
    mounts: [],
    linux: { namespaces: [] },
  };
}

export function buildSpec(...opts: SpecOption[]): OciSpec {
  const spec = emptySpec();
  for (const opt of opts) opt(spec);
  if (spec.process.args.length === 0) throw new Error("OCI spec: process.args is empty (use withProcess)");
  return spec;
}

/** The rootfs directory; readonly makes the runtime remount it read-only. */
export function withRootfs(path: string, readonly: boolean): SpecOption {
  return (spec) => {
    spec.root = { path, readonly };
  };
}

export function withHostname(hostname: string): SpecOption {
  return (spec) => {
    spec.hostname = hostname;
  };
}

export function withAnnotations(annotations: Record<string, string>): SpecOption {
  return (spec) => {
    spec.annotations = { ...spec.annotations, ...annotations };
  };
}
