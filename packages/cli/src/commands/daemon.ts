// warren daemon: runs the daemon in the foreground until it shuts down.
export async function daemonCommand() {
  const { startDaemonForCli } = await import("../daemon-entry.ts");
  await startDaemonForCli();
  return 0;
}
