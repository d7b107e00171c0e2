// A web terminal: xterm.js over the exec WebSocket. The session's CSRF token rides as a
// subprotocol (browsers cannot set headers on a WebSocket); the server also checks the Origin.
// The terminal follows its box's size (fit addon) and tells the shell (a resize control frame).
// Copy and paste: the browser's own, plus Ctrl+Shift+C / Ctrl+Shift+V and two buttons.
// After a network blip it reconnects to a fresh shell; an exit or a Warren error ends it.
import { FitAddon } from "@xterm/addon-fit";
import { Terminal as XTerm } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { useEffect, useRef, useState } from "preact/hooks";
import { csrf } from "../api.ts";
import { Channel, controlFrame, execUrl, frame, parseIncoming } from "../exec-frames.ts";

type Status = "connecting" | "connected" | "reconnecting" | "exited" | "failed";
const MAX_RETRIES = 5;

export function Terminal({ name }: { name: string }) {
  const box = useRef<HTMLDivElement>(null);
  const termRef = useRef<XTerm | undefined>(undefined);
  const [status, setStatus] = useState<Status>("connecting");
  const [note, setNote] = useState<string>();
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    const term = new XTerm({
      cursorBlink: true,
      convertEol: false,
      fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
      fontSize: 14,
      scrollback: 5000,
    });
    termRef.current = term;
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current!);
    fit.fit();
    term.focus();

    let ws: WebSocket | undefined;
    let disposed = false;
    let retries = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const send = (data: Uint8Array) => {
      if (ws?.readyState === WebSocket.OPEN) ws.send(data);
    };

    const connect = () => {
      setStatus(retries === 0 ? "connecting" : "reconnecting");
      let finished = false;
      const sock = new WebSocket(execUrl(location, name, term.cols, term.rows), [
        "warren.exec",
        `csrf.${csrf() ?? ""}`,
      ]);
      sock.binaryType = "arraybuffer";
      ws = sock;
      sock.onopen = () => {
        retries = 0;
        setStatus("connected");
        setNote(undefined);
        send(controlFrame({ type: "resize", cols: term.cols, rows: term.rows }));
      };
      sock.onmessage = (ev) => {
        if (!(ev.data instanceof ArrayBuffer)) return;
        const m = parseIncoming(ev.data);
        if (m.kind === "output") term.write(m.data);
        else if (m.kind === "control") {
          if (m.msg.type === "exit") {
            finished = true;
            setStatus("exited");
            setNote(`The shell exited with status ${m.msg.code}.`);
          } else if (m.msg.type === "error") {
            finished = true;
            setStatus("failed");
            setNote(m.msg.message);
          } else if (m.msg.type === "notice") setNote(m.msg.message);
        }
      };
      sock.onclose = () => {
        if (disposed || finished) return;
        if (retries >= MAX_RETRIES) {
          setStatus("failed");
          setNote("The connection was lost and could not be re-established.");
          return;
        }
        retries++;
        setStatus("reconnecting");
        setNote(`Connection lost; reconnecting (attempt ${retries} of ${MAX_RETRIES})…`);
        term.write("\r\n\x1b[2m[connection lost; reconnecting to a new shell]\x1b[0m\r\n");
        timer = setTimeout(connect, Math.min(500 * 2 ** (retries - 1), 5000));
      };
    };

    const enc = new TextEncoder();
    const input = term.onData((d) => send(frame(Channel.stdin, enc.encode(d))));
    const binary = term.onBinary((d) =>
      send(
        frame(
          Channel.stdin,
          Uint8Array.from(d, (c) => c.charCodeAt(0)),
        ),
      ),
    );
    const resized = term.onResize(({ cols, rows }) => send(controlFrame({ type: "resize", cols, rows })));
    term.attachCustomKeyEventHandler((e) => {
      if (e.type !== "keydown" || !e.ctrlKey || !e.shiftKey) return true;
      if (e.code === "KeyC") {
        void copySelection(term);
        return false;
      }
      if (e.code === "KeyV") {
        void pasteClipboard(term);
        return false;
      }
      return true;
    });
    const observer = new ResizeObserver(() => {
      try {
        fit.fit();
      } catch {
        // A hidden box has no size; the next visible resize fits it.
      }
    });
    observer.observe(box.current!);
    connect();
    return () => {
      disposed = true;
      clearTimeout(timer);
      observer.disconnect();
      input.dispose();
      binary.dispose();
      resized.dispose();
      ws?.close(1000);
      term.dispose();
      termRef.current = undefined;
    };
  }, [name, generation]);

  const ended = status === "exited" || status === "failed";
  return (
    <section class="terminal-section" aria-label={`Terminal of ${name}`}>
      <div class="terminal-bar">
        <span role="status" class={`term-status term-${status}`} data-status={status}>
          {status === "connected" ? "Connected" : status}
          {note ? ` — ${note}` : ""}
        </span>
        <button
          type="button"
          class="secondary"
          onClick={() => termRef.current && void copySelection(termRef.current)}
        >
          Copy
        </button>
        <button
          type="button"
          class="secondary"
          onClick={() => termRef.current && void pasteClipboard(termRef.current)}
        >
          Paste
        </button>
        {ended && (
          <button type="button" onClick={() => setGeneration((g) => g + 1)}>
            New shell
          </button>
        )}
      </div>
      <div class="terminal" ref={box} />
    </section>
  );
}

async function copySelection(term: XTerm): Promise<void> {
  const text = term.getSelection();
  if (text) await navigator.clipboard?.writeText(text).catch(() => {});
}

async function pasteClipboard(term: XTerm): Promise<void> {
  const text = await navigator.clipboard?.readText().catch(() => "");
  if (text) term.paste(text);
  term.focus();
}
