// SIGTERM and SIGINT stop the daemon cleanly (environments keep running), then exit.
import type { FastifyBaseLogger } from "fastify";

/** Installs the handlers; returns what removes them (called once the daemon has closed). */
export function exitOnSignals(close: () => Promise<void>, log: FastifyBaseLogger): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, "signal received");
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "unclean shutdown");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  return () => {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  };
}
