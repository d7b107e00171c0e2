// xterm.js is most of the bundle: load it only when a terminal is opened.
import type { FunctionComponent } from "preact";
import { useEffect, useState } from "preact/hooks";
import { errorMessage } from "../api.ts";

type TerminalComponent = FunctionComponent<{ name: string }>;
let loaded: TerminalComponent | undefined;

export function LazyTerminal({ name }: { name: string }) {
  const [Term, setTerm] = useState<TerminalComponent | undefined>(() => loaded);
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (Term) return;
    import("./terminal.tsx").then(
      (m) => {
        loaded = m.Terminal;
        setTerm(() => m.Terminal);
      },
      (err: unknown) => setError(errorMessage(err)),
    );
  }, [Term]);
  if (error)
    return (
      <p role="alert" class="error">
        The terminal could not be loaded: {error}
      </p>
    );
  return Term ? <Term name={name} /> : <p>Loading the terminal…</p>;
}
