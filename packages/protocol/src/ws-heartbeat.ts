// Dead-peer detection for long-lived WebSockets (the runner protocol). A runner host that loses
// power or network sends no FIN: without this, its connection would look alive for hours (TCP
// keepalive), calls to it would hang, and the runner would never reconnect. Each end pings every
// `intervalMs`; a peer that has not answered the previous ping is terminated, which fails its
// calls at once (RUNNER_UNAVAILABLE) and lets the runner's reconnect loop take over.
export interface PingableSocket {
  ping(): void;
  terminate(): void;
  on(ev: "pong" | "close", cb: () => void): unknown;
}

export const HEARTBEAT_MS = 15_000;

export function keepAlive(ws: PingableSocket, intervalMs = HEARTBEAT_MS): () => void {
  let alive = true;
  ws.on("pong", () => {
    alive = true;
  });
  const timer = setInterval(() => {
    if (!alive) {
      clearInterval(timer);
      ws.terminate();
      return;
    }
    alive = false;
    try {
      ws.ping();
    } catch {
      // closing already; the close handler clears the timer
    }
  }, intervalMs);
  timer.unref();
  const stop = () => clearInterval(timer);
  ws.on("close", stop);
  return stop;
}
