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
import { SECURE_HEADERS } from "./security.ts";

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
    return { watch, ...(await watch.ready) };
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

/**
 * Pulls events from a watch for one consumer: `next()` resolves with the next event or, after
 * `heartbeatMs` of quiet, with null. Only one read of the watch is in flight at a time.
 */
function pacedEvents(watch: BarWatch, heartbeatMs: number) {
  let pending: Promise<IteratorResult<BarEvent>> | null = null;
  return async (): Promise<IteratorResult<BarEvent> | null> => {
    pending ??= watch.next();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const quiet = new Promise<null>((resolve) => (timer = setTimeout(resolve, heartbeatMs, null)));
    const result = await Promise.race([pending, quiet]);
    clearTimeout(timer);
    if (result !== null) pending = null;
    return result;
  };
}

/** Waits for a consumer to take what is buffered: `within` is false when `release` did not come in time. */
function drainGate() {
  let release: (() => void) | null = null;
  return {
    within: (ms: number) =>
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
      }),
    release: () => release?.(),
  };
}

const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-store",
  // Proxies that buffer (nginx) would hold the events back.
  "X-Accel-Buffering": "no",
  ...SECURE_HEADERS,
};

function sseResponse(c: Context, watch: BarWatch, cursor: string, gap: boolean, options: Required<LiveOptions>): Response {
  const encoder = new TextEncoder();
  const next = pacedEvents(watch, options.heartbeatMs);
  let closed = false;
  const drain = drainGate();
  const stop = async () => {
    closed = true;
    drain.release();
    await watch.return();
  };
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        // retry: how long EventSource waits before it reconnects with Last-Event-ID.
        controller.enqueue(encoder.encode(`retry: 1000\nevent: ready\ndata: ${JSON.stringify({ cursor, ...(gap ? { gap: true } : {}) })}\n\n`));
        void pump(controller);
      },
      pull() {
        drain.release();
      },
      async cancel() {
        await stop();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: STREAM_BUFFER_BYTES }),
  );
  async function pump(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    let last = cursor;
    try {
      while (!closed) {
        const result = await next();
        if (closed) return;
        if (result === null) {
          controller.enqueue(encoder.encode(": keep-alive\n\n"));
        } else if (result.done) {
          controller.close();
          return;
        } else {
          last = result.value.cursor;
          controller.enqueue(encoder.encode(`id: ${last}\nevent: bar\ndata: ${eventJson(result.value)}\n\n`));
        }
        if ((controller.desiredSize ?? 1) <= 0 && !(await drain.within(options.stallMs))) {
          controller.enqueue(encoder.encode(`event: dropped\ndata: ${JSON.stringify({ cursor: last, reason: "the consumer took nothing for too long" })}\n\n`));
          controller.close();
          await stop();
          return;
        }
      }
    } catch (error) {
      if (closed) return;
      c.var.logError(error, c);
      controller.error(error);
      await stop();
    }
  }
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
  const next = pacedEvents(watch, options.heartbeatMs);
  let closed = false;
  const drain = drainGate();
  const stop = async () => {
    closed = true;
    drain.release();
    await watch.return();
  };
  const data: LiveSocketData = {
    live: true,
    open(ws) {
      ws.send(JSON.stringify({ type: "ready", cursor, ...(gap ? { gap: true } : {}) }));
      void pump(ws);
    },
    drain: () => drain.release(),
    close: () => void stop(),
  };
  async function pump(ws: ServerWebSocket<LiveSocketData>): Promise<void> {
    let last = cursor;
    try {
      while (!closed) {
        const result = await next();
        if (closed) return;
        if (result === null) {
          ws.ping();
          continue;
        }
        if (result.done) {
          ws.close(1000, "the watch ended");
          return;
        }
        last = result.value.cursor;
        ws.send(`{"type":"bar",${eventJson(result.value).slice(1)}`);
        if (ws.getBufferedAmount() > STREAM_BUFFER_BYTES && !(await drain.within(options.stallMs))) {
          ws.send(JSON.stringify({ type: "dropped", cursor: last, reason: "the consumer took nothing for too long" }));
          ws.close(4008, "dropped: resume from the cursor");
          await stop();
          return;
        }
      }
    } catch (error) {
      if (closed) return;
      c.var.logError(error, c);
      ws.close(1011, "internal error");
      await stop();
    }
  }
  if (!server.upgrade(c.req.raw, { data, headers: { "Cache-Control": "no-store" } })) {
    void stop();
    throw new ApiError(426, UPGRADE_MESSAGE, null, "UPGRADE_REQUIRED");
  }
  // Bun writes the 101 itself; Hono needs a Response to return.
  return new Response(null);
}

/** A WebSocket upgrade from a page of another origin (browsers send Origin on every upgrade). */
function checkSocketOrigin(c: Context, allowed: ReadonlySet<string>): void {
  const origin = c.req.header("origin");
  if (origin === undefined) return;
  const url = new URL(c.req.url);
  const own = `${url.protocol === "https:" ? "https:" : "http:"}//${c.req.header("host") ?? url.host}`;
  if (origin !== own && !allowed.has(origin)) {
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
