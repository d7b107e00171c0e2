// Small pieces the settings and admin pages share: loading a resource with its error, showing an
// error as the catalog's message (never a stack), a two-step remove button (no blocking confirm()
// dialog), and an announcement region for what just happened.
import type { ComponentChildren, JSX } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { errorMessage } from "../../api.ts";
import "./pages.css";

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): void;
}

/** Runs `load` now and whenever `deps` change or reload() is called; a stale answer is dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[] = []): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setLoading(true);
    load().then(
      (v) => {
        if (mine !== seq.current) return;
        setData(v);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (mine !== seq.current) return;
        setError(e);
        setLoading(false);
      },
    );
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** The catalog's message for an API failure, announced to screen readers. */
export function ErrorNote({ error }: { error: unknown }): JSX.Element | null {
  if (error === undefined || error === null) return null;
  return (
    <p class="notice notice-error" role="alert">
      {errorMessage(error)}
    </p>
  );
}

/** A polite status line ("Key added."), announced without stealing focus. */
export function StatusNote({ text }: { text: string | undefined }): JSX.Element {
  return (
    <p class="notice notice-ok" role="status" aria-live="polite">
      {text ?? ""}
    </p>
  );
}

/**
 * Runs an action, tracking busy/error/status: `run(() => api..., "Saved.")`. The error stays until
 * the next run so a person can read it.
 */
export function useAction(): {
  busy: boolean;
  error: unknown;
  status: string | undefined;
  run(fn: () => Promise<unknown>, done?: string): Promise<boolean>;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [status, setStatus] = useState<string | undefined>(undefined);
  const run = useCallback(async (fn: () => Promise<unknown>, done?: string) => {
    setBusy(true);
    setError(undefined);
    setStatus(undefined);
    try {
      await fn();
      setStatus(done);
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, status, run };
}

/** "Remove" asks once more in place ("Remove NAME? Yes / No") instead of a modal dialog. */
export function ConfirmButton(props: {
  label: string;
  what: string;
  onConfirm: () => void;
  disabled?: boolean;
}): JSX.Element {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button
        type="button"
        class="danger"
        disabled={props.disabled}
        aria-label={`${props.label} ${props.what}`}
        onClick={() => setAsking(true)}
      >
        {props.label}
      </button>
    );
  }
  return (
    <span class="confirm">
      <span>
        {props.label} {props.what}?
      </span>{" "}
      <button
        type="button"
        class="danger"
        onClick={() => {
          setAsking(false);
          props.onConfirm();
        }}
      >
        Yes, {props.label.toLowerCase()}
      </button>{" "}
      <button type="button" class="secondary" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

/** A page's heading and one-line purpose; the main landmark is the app shell's. */
export function PageTitle(props: { title: string; children?: ComponentChildren }): JSX.Element {
  return (
    <header class="page-header">
      <h1>{props.title}</h1>
      {props.children ? <p class="page-lede">{props.children}</p> : null}
    </header>
  );
}

/** A labelled section with its own heading (h2), so headings stay in order for screen readers. */
export function Section(props: { title: string; children: ComponentChildren }): JSX.Element {
  const id = `section-${props.title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return (
    <section class="card" aria-labelledby={id}>
      <h2 id={id}>{props.title}</h2>
      {props.children}
    </section>
  );
}

/** Shows "Loading…" until the first answer, then the error or the content. */
export function Loading<T>(props: {
  state: Loaded<T>;
  children: (data: T) => ComponentChildren;
}): JSX.Element {
  const { data, error, loading } = props.state;
  if (error !== undefined && data === undefined) return <ErrorNote error={error} />;
  if (data === undefined) return <p aria-busy={loading}>Loading…</p>;
  // While a newer answer loads, the last one stays on screen, marked busy.
  return (
    <div aria-busy={loading}>
      <ErrorNote error={error} />
      {props.children(data)}
    </div>
  );
}

/** An input's current value, from an event on it. */
export const inputValue = (e: Event): string => (e.currentTarget as HTMLInputElement).value;

/**
 * A table that scrolls sideways when the screen is narrower than it. While it overflows it is a
 * focusable, labelled region, so a keyboard user can scroll it too (axe: scrollable-region-focusable);
 * when it fits it adds no tab stop.
 */
export function ScrollTable(props: { label: string; children: ComponentChildren }): JSX.Element {
  const ref = useRef<HTMLDivElement>(null);
  const [overflows, setOverflows] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => setOverflows(el.scrollWidth > el.clientWidth + 1);
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    if (el.firstElementChild) ro.observe(el.firstElementChild);
    return () => ro.disconnect();
  }, []);
  return (
    <div
      ref={ref}
      class="table-wrap"
      {...(overflows ? { tabIndex: 0, role: "region", "aria-label": props.label } : {})}
    >
      {props.children}
    </div>
  );
}
