// Ctrl-C while a request that changes things is in flight. The daemon goes on with what it was
// asked (the request is already durable there), so exiting silently would leave the user
// believing nothing happened. Instead: say what is still going on and how to undo it, then exit
// 130 as a shell does for SIGINT.
export const EXIT_INTERRUPTED = 130;

/**
 * Until the returned function is called, SIGINT prints `warren: interrupted: <what>` to stderr
 * and exits 130. Call the returned function once the request has settled.
 */
export function explainInterrupt(what: string, stderr: NodeJS.WritableStream = process.stderr): () => void {
  const onSigint = () => {
    // A new line first: the terminal shows "^C" where the cursor was.
    stderr.write(`\nwarren: interrupted: ${what}\n`, () => process.exit(EXIT_INTERRUPTED));
  };
  process.on("SIGINT", onSigint);
  return () => process.off("SIGINT", onSigint);
}
