// GET /api/v1/environments?watch=1: environment changes as Server-Sent Events, resumable like a
// Kubernetes watch. Each event's `id:` is its resource version, so a browser EventSource (or our
// client) reconnects with Last-Event-ID and gets every later change exactly once.
//
// A watch is a live session (services/live-sessions.ts): when its token is revoked or expires, or
// its user leaves the organisation, it gets a final ERROR event saying so and ends; no event
// carrying data follows. A watch opened with a dashboard session also ends when it signs out.
import type { WatchEvent } from "@warren/protocol";
import { WarrenError } from "@warren/protocol";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Actor } from "../services/actor.ts";
import type { LiveSessions, SessionEnd } from "../services/live-sessions.ts";
import type { EnvWatchService, OwnedWatchEvent } from "../services/watch.ts";
import { onDashboardSessionEnd } from "./dashboard-auth.ts";

export const HEARTBEAT_MS = 15_000;

export function resumeVersion(req: FastifyRequest, queryRv: string | undefined): number | undefined {
  const header = req.headers["last-event-id"];
  const raw = queryRv ?? (Array.isArray(header) ? header[0] : header);
  if (raw === undefined || raw === "") return undefined;
  if (!/^[0-9]{1,15}$/.test(raw)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid resource version "${raw}"; use the id of a watch event`,
      {
        field: "resourceVersion",
      },
    );
  }
  return Number(raw);
}

export function formatEvent(e: OwnedWatchEvent): string {
  const { ownership: _, ...wire } = e;
  const data: WatchEvent = wire;
  return `event: ${e.type}\nid: ${e.resourceVersion}\ndata: ${JSON.stringify(data)}\n\n`;
}

export async function serveWatch(
  req: FastifyRequest,
  reply: FastifyReply,
  watch: EnvWatchService,
  opts: {
    /** Who watches: the service sends only what this actor may see (services/scope.ts). */
    actor: Actor;
    resourceVersion: number | undefined;
    shutdown: AbortSignal | undefined;
    /** Ends the watch when the actor's credential is revoked or expires. */
    sessions?: LiveSessions | undefined;
  },
): Promise<void> {
  // Everything that can fail with a status happens before the stream starts.
  let cursor: number;
  const initial: WatchEvent[] = [];
  await watch.sync();
  if (opts.resourceVersion === undefined) {
    const snap = await watch.snapshot(opts.actor);
    cursor = snap.resourceVersion;
    for (const { env } of snap.items) initial.push({ type: "ADDED", resourceVersion: cursor, object: env });
    initial.push({ type: "BOOKMARK", resourceVersion: cursor });
  } else {
    cursor = opts.resourceVersion;
    await watch.checkResumable(cursor);
  }

  const stop = new AbortController();
  const end = () => stop.abort();
  opts.shutdown?.addEventListener("abort", end, { once: true });
  reply.raw.on("close", end);
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  // Once the credential is gone nothing more is written: the revocation's final event ends it.
  let ended: SessionEnd | undefined;
  const write = (text: string) => {
    if (!ended && !res.writableEnded) res.write(text);
  };
  const live = opts.sessions?.open("watch", opts.actor, (why) => {
    write(`event: ERROR\ndata: ${JSON.stringify({ code: why.code, message: why.message })}\n\n`);
    ended = why;
    res.end();
    end();
  });
  // Signing out of the dashboard ends the watches its page opened (revocation: `live` above).
  const signedOut = onDashboardSessionEnd(req, (why) => {
    write(
      `event: ERROR\ndata: ${JSON.stringify({ code: "UNAUTHENTICATED", message: `${why}; sign in again` })}\n\n`,
    );
    ended = { cause: "revoked", code: "UNAUTHENTICATED", closeCode: 4401, closeReason: why, message: why };
    res.end();
    end();
  });
  write("retry: 1000\n\n");
  for (const e of initial) write(formatEvent(e));
  const heartbeat = setInterval(() => write(": heartbeat\n\n"), HEARTBEAT_MS);
  try {
    while (!stop.signal.aborted) {
      // A change the caller may not see still advances its cursor (`through`), so a resume skips it too.
      const { events, through } = await watch.changesAfter(opts.actor, cursor);
      for (const e of events) write(formatEvent(e));
      const moved = through !== cursor;
      cursor = through;
      if (!moved) await watch.waitPast(cursor, stop.signal);
    }
  } catch (err) {
    // Mid-stream failures (compaction overtook a slow reader) become a final error event; the
    // client relists.
    const body = err instanceof WarrenError ? err.toBody() : { code: "INTERNAL", message: "watch failed" };
    if (!(err instanceof WarrenError)) req.log.error({ err }, "watch failed");
    write(`event: ERROR\ndata: ${JSON.stringify(body)}\n\n`);
  } finally {
    live?.close();
    signedOut?.();
    clearInterval(heartbeat);
    opts.shutdown?.removeEventListener("abort", end);
    if (!res.writableEnded) res.end();
  }
}
