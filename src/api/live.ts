/**
 * /v1/stream: store.watch() over HTTP, as Server-Sent Events (`GET /v1/stream`) or over a
 * WebSocket (`GET /v1/stream/ws`, Bun's built-in WebSocket): the same events, the same cursor.
 *
 * - Options are checked before the stream opens: a bad interval or option answers 422, a
 *   malformed cursor or one from another database 400 naming `since` (store.watch checks the
 *   options when called and the cursor in `ready`, which is awaited here).
 * - Resume: an event's `id` (SSE) or `cursor` (WebSocket) is the cursor. EventSource sends the
 *   last one back as `Last-Event-ID` when it reconnects, which wins over `?since=`.
 * - The first event is `ready`, carrying the cursor the stream starts from, and `gap: true` when
 *   the cursor asked for was older than the change log keeps (bars before it may be missing).
 * - Bounded buffers: events are written as the socket takes them. Past `STREAM_BUFFER_BYTES`
 *   waiting to be sent, the stream waits for its consumer; one that takes nothing for
 *   `stallMs` (default 30 s) while events wait gets a `dropped` event carrying the cursor it can
 *   resume from, and the stream closes. The watch stops with it: a stalled consumer holds one
 *   buffer, never the change log's backlog.
 * - A comment line every `HEARTBEAT_MS` keeps proxies and idle timeouts from cutting a quiet
 *   stream, and tells a client that the server is alive.
 * - Browsers do not apply CORS to WebSockets: an upgrade whose Origin is not the server's own or
 *   an allowed origin is refused (403 CROSS_SITE) before it is upgraded, as a cross-site write is.
 */
import { z } from "@hono/zod-openapi";
import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import type { Context } from "hono";
import { BarSchema } from "../domain/bar.ts";
import { ValidationError } from "../domain/errors.ts";
import type { BarEvent, BarWatch, WatchOptions } from "../domain/watch.ts";
import { ALIGNS, BAR_TIMESTAMPS } from "../domain/query.ts";
import { STREAMED } from "./access-log.ts";
import type { Api } from "./context.ts";
import { ApiError, errorResponses, parseWith } from "./errors.ts";
import { ADJUST_QUERY, defined, IntervalQuery, route, singleValued } from "./schemas.ts";
import { isForeignOrigin, SECURE_HEADERS } from "./security.ts";

/** Bytes an open stream may have waiting for its consumer before it waits for them to drain. */
export const STREAM_BUFFER_BYTES = 1 << 20;
/** A stream whose consumer takes nothing for this long while events wait is dropped. */
export const STREAM_STALL_MS = 30_000;
/** A comment line this often on a quiet stream. */
export const HEARTBEAT_MS = 15_000;
const UPGRADE_MESSAGE = "GET /v1/stream/ws needs a WebSocket upgrade request (or use GET /v1/stream for Server-Sent Events)";
/** The longest cursor accepted (a cursor is tens of characters). */
const MAX_CURSOR = 200;

export interface LiveOptions {
  /** How long a consumer may take nothing while events wait before it is dropped. Default STREAM_STALL_MS. */
  stallMs?: number;
  /** Comment lines on a quiet stream this often. Default HEARTBEAT_MS. */
  heartbeatMs?: number;
}

const StreamQuery = z.strictObject({
  symbols: z.string().max(8_000).optional().openapi({ description: "comma-separated symbols; omitted, every symbol", example: "600519.SH,000001.SZ" }),
  interval: IntervalQuery.optional().openapi({ description: "resample: each bar as it forms (final: false), then once more when its bucket closes (final: true)" }),
  align: z.enum(ALIGNS).optional(),
  barTimestamp: z.enum(BAR_TIMESTAMPS).optional(),
  ...ADJUST_QUERY,
  since: z.string().max(MAX_CURSOR).optional().openapi({ description: "a cursor (an event's id): what was stored after it is sent first, then live; Last-Event-ID wins over it" }),
});

const BarEventSchema = z.object({
  cursor: z.string(),
  symbol: z.string(),
  interval: z.string().nullable(),
  bar: BarSchema,
  final: z.boolean(),
});

/** The watch's options from a request's query and Last-Event-ID (422 or 400 as the header says). */
function watchOptionsOf(c: Context): WatchOptions {
  const { symbols, since, ...rest } = parseWith(StreamQuery, singleValued(c.req.queries()), "query");
  const resume = c.req.header("last-event-id");
  if (resume !== undefined && resume.length > MAX_CURSOR) throw new ApiError(400, "Last-Event-ID is not a cursor", { field: "Last-Event-ID" }, "MALFORMED");
  return {
    ...(defined(rest) as WatchOptions),
    ...(symbols !== undefined ? { symbols: symbols.split(",") } : {}),
    ...(resume !== undefined && resume !== "" ? { since: resume } : since !== undefined ? { since } : {}),
  };
}

/** Starts the watch and waits until its cursor is checked: a bad cursor is 400 naming it. */
async function openWatch(c: Context, options: WatchOptions, signal: AbortSignal): Promise<{ watch: BarWatch; cursor: string; gap: boolean }> {
  const watch = c.var.store.watch({ ...options, signal });
  try {
    return { watch, ...(await watch.start) };
  } catch (error) {
    await watch.return();
    if (error instanceof ValidationError && error.issues.some((issue) => issue.field === "since")) {
      const field = c.req.header("last-event-id") ? "Last-Event-ID" : "since";
      throw new ApiError(400, `${field}: ${error.issues[0]!.message}`, { field }, "MALFORMED");
    }
    throw error;
  }
}

/** What both transports send, as JSON. */
function eventJson(event: BarEvent): string {
  return JSON.stringify({ cursor: event.cursor, symbol: event.symbol, interval: event.interval, bar: event.bar, final: event.final });
}

/** Where one consumer's events go: an SSE body or a WebSocket. */
interface EventSink {
  event(event: BarEvent): void;
  heartbeat(): void;
  /** The watch ended (its store closed). */
  end(): void;
  /** The consumer took nothing for too long: say so with the cursor to resume from, and close. */
  drop(cursor: string): void;
  fail(error: unknown): void;
  /** More is waiting to be sent than STREAM_BUFFER_BYTES. */
  full(): boolean;
}

/**
 * Feeds one consumer from a watch, an event at a time; a heartbeat once a `heartbeatMs` tick
 * passes with nothing sent (so after heartbeatMs to twice that of quiet). One interval per
 * stream rather than a timer raced against every event: with 1,000 streams a live minute is
 * thousands of events, and a timer each was the stream's own largest cost per event.
 * `drained()` is the consumer's side: it took what was buffered. `stop()` ends it all.
 */
function feed(watch: BarWatch, cursor: string, options: Required<LiveOptions>, sink: EventSink) {
  let closed = false;
  let release: (() => void) | null = null;
  let beat: ReturnType<typeof setInterval> | undefined;
  const stop = async () => {
    closed = true;
    clearInterval(beat);
    release?.();
    await watch.return();
  };
  const drainedWithin = (ms: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        release = null;
        resolve(false);
      }, ms);
      release = () => {
        clearTimeout(timer);
        release = null;
        resolve(true);
      };
    });
  const run = async (): Promise<void> => {
    let last = cursor;
    let quiet = true;
    beat = setInterval(() => {
      if (quiet && !closed) sink.heartbeat();
      quiet = true;
    }, options.heartbeatMs);
    try {
      while (!closed) {
        const result = await watch.next();
        if (closed) return;
        if (result.done) return sink.end();
        last = result.value.cursor;
        sink.event(result.value);
        quiet = false;
        if (sink.full() && !(await drainedWithin(options.stallMs))) {
          if (closed) return;
          sink.drop(last);
          return await stop();
        }
      }
    } catch (error) {
      if (closed) return;
      sink.fail(error);
      await stop();
    } finally {
      clearInterval(beat);
    }
  };
  return { run, stop, drained: () => release?.() };
}

const DROPPED = "the consumer took nothing for too long";

const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-store",
  // Proxies that buffer (nginx) would hold the events back.
  "X-Accel-Buffering": "no",
  ...SECURE_HEADERS,
};

function sseResponse(c: Context, watch: BarWatch, cursor: string, gap: boolean, options: Required<LiveOptions>): Response {
  const encoder = new TextEncoder();
  let feeding: ReturnType<typeof feed> | undefined;
  // Events written in one turn of the loop (a commit's bars of this stream's symbols) go out as
  // one chunk: each chunk is a write to the socket, the largest cost of a stream per event.
  let pending = "";
  let open = true;
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const flush = () => {
          if (pending === "" || !open) return;
          const text = pending;
          pending = "";
          controller.enqueue(encoder.encode(text));
        };
        const send = (text: string) => {
          if (pending === "") setImmediate(flush);
          pending += text;
        };
        const close = () => {
          flush();
          open = false;
          controller.close();
        };
        // retry: how long EventSource waits before it reconnects with Last-Event-ID.
        send(`retry: 1000\nevent: ready\ndata: ${JSON.stringify({ cursor, ...(gap ? { gap: true } : {}) })}\n\n`);
        flush();
        feeding = feed(watch, cursor, options, {
          event: (event) => send(`id: ${event.cursor}\nevent: bar\ndata: ${eventJson(event)}\n\n`),
          heartbeat: () => send(": keep-alive\n\n"),
          end: close,
          drop: (last) => {
            send(`event: dropped\ndata: ${JSON.stringify({ cursor: last, reason: DROPPED })}\n\n`);
            close();
          },
          fail: (error) => {
            c.var.logError(error, c);
            open = false;
            controller.error(error);
          },
          full: () => (controller.desiredSize ?? 1) - pending.length <= 0,
        });
        void feeding.run();
      },
      // Called when the consumer has taken what was queued.
      pull: () => feeding?.drained(),
      cancel: () => {
        open = false;
        return feeding?.stop();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: STREAM_BUFFER_BYTES }),
  );
  c.set(STREAMED as never, true as never);
  return new Response(body, { headers: SSE_HEADERS });
}

/** What a WebSocket of the stream carries between the upgrade and its handlers. */
export interface LiveSocketData {
  live: true;
  open(ws: ServerWebSocket<LiveSocketData>): void;
  drain(): void;
  close(): void;
}

/**
 * Bun.serve's `websocket` handler for /v1/stream/ws (startServer passes it). An app served by
 * another Bun.serve passes it too: `Bun.serve({ fetch: app.fetch, websocket: liveWebSocket })`.
 */
export const liveWebSocket: WebSocketHandler<LiveSocketData> = {
  open: (ws) => ws.data.open(ws),
  drain: (ws) => ws.data.drain(),
  close: (ws) => ws.data.close(),
  message() {
    // The stream is one-way; what a client sends is ignored.
  },
};

function upgradeToSocket(c: Context, watch: BarWatch, cursor: string, gap: boolean, options: Required<LiveOptions>): Response {
  const server = c.env as Server<LiveSocketData> | undefined;
  if (typeof server?.upgrade !== "function") {
    void watch.return();
    throw new ApiError(501, "WebSockets need the app served by Bun.serve with tradelite's liveWebSocket handler (startServer does this)", null, "NOT_IMPLEMENTED");
  }
  let feeding: ReturnType<typeof feed> | undefined;
  const data: LiveSocketData = {
    live: true,
    open(ws) {
      ws.send(JSON.stringify({ type: "ready", cursor, ...(gap ? { gap: true } : {}) }));
      feeding = feed(watch, cursor, options, {
        event: (event) => ws.send(`{"type":"bar",${eventJson(event).slice(1)}`),
        heartbeat: () => ws.ping(),
        end: () => ws.close(1000, "the watch ended"),
        drop: (last) => {
          ws.send(JSON.stringify({ type: "dropped", cursor: last, reason: DROPPED }));
          ws.close(4008, "dropped: resume from the cursor");
        },
        fail: (error) => {
          c.var.logError(error, c);
          ws.close(1011, "internal error");
        },
        full: () => ws.getBufferedAmount() > STREAM_BUFFER_BYTES,
      });
      void feeding.run();
    },
    drain: () => feeding?.drained(),
    close: () => void (feeding ? feeding.stop() : watch.return()),
  };
  if (!server.upgrade(c.req.raw, { data, headers: { "Cache-Control": "no-store" } })) {
    void watch.return();
    throw new ApiError(426, UPGRADE_MESSAGE, null, "UPGRADE_REQUIRED");
  }
  // Bun writes the 101 itself; Hono needs a Response to return.
  return new Response(null);
}

/** A WebSocket upgrade from a page of another origin (browsers send Origin on every upgrade). */
function checkSocketOrigin(c: Context, allowed: ReadonlySet<string>): void {
  const origin = c.req.header("origin");
  if (origin !== undefined && isForeignOrigin(c, origin, allowed)) {
    throw new ApiError(403, `a WebSocket from ${JSON.stringify(origin.slice(0, 100))} may not read this stream (add the origin to TRADELITE_CORS_ORIGINS)`, null, "CROSS_SITE");
  }
}

export function liveRoutes(app: Api, corsOrigins: readonly string[], options: LiveOptions = {}): void {
  const settings: Required<LiveOptions> = { stallMs: options.stallMs ?? STREAM_STALL_MS, heartbeatMs: options.heartbeatMs ?? HEARTBEAT_MS };
  const allowed = new Set(corsOrigins);
  const described = {
    request: { query: StreamQuery },
    responses: {
      200: {
        description: "events: `ready` ({cursor, gap?}) first, then `bar` (id: its cursor; data: {cursor, symbol, interval, bar, final}), and `dropped` ({cursor}) before a stalled stream closes",
        content: { "text/event-stream": { schema: BarEventSchema } },
      },
      ...errorResponses(400),
    },
  };
  app.openAPIRegistry.registerPath(
    route({ method: "get", path: "/v1/stream", summary: "Bars as they are stored, by any writer, as Server-Sent Events (resume with Last-Event-ID)", ...described }),
  );
  app.get("/v1/stream", async (c) => {
    const options = watchOptionsOf(c);
    const { watch, cursor, gap } = await openWatch(c, options, c.var.turns.defer(c.req.raw.signal));
    return sseResponse(c, watch, cursor, gap, settings);
  });
  app.openAPIRegistry.registerPath(
    route({
      method: "get",
      path: "/v1/stream/ws",
      summary: "The same events over a WebSocket: JSON text frames {type: ready|bar|dropped, ...}; resume with ?since=",
      ...described,
      responses: { ...described.responses, 101: { description: "switching to the WebSocket" }, ...errorResponses(400, 426) },
    }),
  );
  app.get("/v1/stream/ws", async (c) => {
    checkSocketOrigin(c, allowed);
    // Options and cursor first: a client whose upgrade failed asks again without upgrading to
    // learn why (a WebSocket's error event carries no status), and gets the 422 or 400.
    const options = watchOptionsOf(c);
    // The socket outlives the request: the watch ends when the socket closes, not with the request.
    const { watch, cursor, gap } = await openWatch(c, options, new AbortController().signal);
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      await watch.return();
      throw new ApiError(426, UPGRADE_MESSAGE, null, "UPGRADE_REQUIRED");
    }
    return upgradeToSocket(c, watch, cursor, gap, settings);
  });
}
