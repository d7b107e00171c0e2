// The environment's console log, followed live (a plain-text stream read with fetch(), so the
// CSRF header goes with it). Only the last LIMIT characters are kept on the page.
import { useEffect, useRef, useState } from "preact/hooks";
import { apiFetch, errorMessage } from "../api.ts";

const LIMIT = 200_000;

export function Logs({ name }: { name: string }) {
  const [text, setText] = useState("");
  const [status, setStatus] = useState("Connecting…");
  const [generation, setGeneration] = useState(0);
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const ctl = new AbortController();
    setText("");
    (async () => {
      const res = await apiFetch(`/api/v1/environments/${encodeURIComponent(name)}/logs?follow=1&tail=1000`, {
        signal: ctl.signal,
        headers: { Accept: "text/plain" },
      });
      setStatus("Following");
      if (!res.body) return;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      ctl.signal.addEventListener("abort", () => void reader.cancel().catch(() => {}));
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        setText((t) => (t + value).slice(-LIMIT));
      }
      setStatus("The log stream ended.");
    })().catch((err: unknown) => {
      if (!ctl.signal.aborted) setStatus(errorMessage(err));
    });
    return () => ctl.abort();
  }, [name, generation]);
  useEffect(() => {
    const el = pre.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [text]);
  return (
    <section aria-labelledby="logs-h">
      <div class="page-head">
        <h2 id="logs-h">Log</h2>
        <span role="status">{status}</span>
        <button type="button" class="secondary" onClick={() => setGeneration((g) => g + 1)}>
          Reload
        </button>
      </div>
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard */}
      <pre class="log" role="log" ref={pre} tabIndex={0} aria-label="Console log">
        {text}
      </pre>
    </section>
  );
}
