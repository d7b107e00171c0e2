// Crash injection for tests (Nomad kills its agent mid-task the same way). WARREN_FAILPOINT names
// a step; when the daemon reaches it, the process is SIGKILLed on the spot, with no cleanup.
// A restart must then converge: the environment ends running, or failed with a reason, and
// nothing half-made is left on the host.
export const FAILPOINTS = [
  "row-insert",
  "disk-create",
  "loop-attach",
  "mount-disk",
  "mount-lower",
  "mount-overlay",
  "net-setup",
  "bundle-write",
  "runtime-create",
  "cgroup-attach",
  "runtime-start",
  "stop-kill",
  "remove-unmount",
] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

export function failpoint(name: Failpoint): void {
  const want = process.env["WARREN_FAILPOINT"];
  if (!want || want !== name) return;
  process.stderr.write(`warren: failpoint ${name} reached, killing the daemon\n`);
  process.kill(process.pid, "SIGKILL");
}
