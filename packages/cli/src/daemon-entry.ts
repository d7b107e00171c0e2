// The lead wires the daemon body here. Contract: start the daemon in this process and resolve
// only once it has shut down (the CLI exits when this promise settles).
export async function startDaemonForCli(): Promise<void> {
  throw new Error("warren daemon: not wired yet");
}
