/**
 * client.watch(): GET /v1/stream (Server-Sent Events) or /v1/stream/ws (WebSocket) as the same
 * async iterator of BarEvent that store.watch() gives, resuming by itself.
 *
 * - The first connection's failure is thrown (a wrong address or a bad option fails at once:
 *   422 and 400 come back as ValidationError). Once a stream has opened, a cut connection, a
 *   server restart or a `dropped` event (the server's bound on a slow consumer) reconnects after
 *   a pause (0.1 s doubling to 5 s, reset by the next event) from the last event's cursor, so
 *   nothing is lost or repeated; an answer that is not a success then (a 4xx after a restart
 *   with another database, say) is thrown.
 * - `gap: true` marks the first bar after a resume that started past a trimmed change log, as
 *   the store marks its own first event.
 * - It ends when `signal` aborts or the loop that reads it breaks.
 */
import type { BarEvent, WatchOptions } from "../domain/watch.ts";
import { StorageError, TradeliteError } from "../domain/errors.ts";
import { linesOf } from "./lines.ts";

export type WatchTransport = "sse" | "websocket";

export interface ClientWatchOptions extends Omit<WatchOptions, "signal"> {
  /** Default "sse". */
  transport?: WatchTransport;
  signal?: AbortSignal;
}

/** One message of either transport, as the stream sends it. */
type StreamMessage =
  | { type: "ready"; cursor: string; gap?: boolean }
  | ({ type: "bar" } & BarEvent)
  | { type: "dropped"; cursor: string };

export interface StreamConnector {
  /** Opens one stream from `since`; rejects as the library's error when it cannot. */
  (query: Record<string, string>, signal: AbortSignal): Promise<AsyncIterable<StreamMessage>>;
}

const FIRST_RETRY_MS = 100;
const LAST_RETRY_MS = 5_000;

/** The query string of a watch: symbols comma-separated, the rest as given. */
export function streamQuery(options: Omit<ClientWatchOptions, "transport" | "signal">): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    query[key] = key === "symbols" ? (value as string[]).join(",") : value instanceof Date ? String(value.getTime()) : String(value);
  }
  return query;
}

export async function* resumingWatch(connect: StreamConnector, options: ClientWatchOptions): AsyncGenerator<BarEvent> {
  const { transport: _transport, signal: outer, since, ...rest } = options;
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  outer?.addEventListener("abort", onAbort, { once: true });
  if (outer?.aborted) stop.abort();
  let cursor = since;
  let opened = false;
  let pause = FIRST_RETRY_MS;
  try {
    while (!stop.signal.aborted) {
      let gap = false;
      try {
        const messages = await connect({ ...streamQuery(rest), ...(cursor !== undefined ? { since: cursor } : {}) }, stop.signal);
        opened = true;
        for await (const message of messages) {
          if (message.type === "ready") {
            gap = message.gap === true;
            cursor ??= message.cursor;
          } else if (message.type === "bar") {
            const { type: _type, ...event } = message;
            cursor = event.cursor;
            pause = FIRST_RETRY_MS;
            if (gap) {
              gap = false;
              yield { ...event, gap: true };
            } else yield event;
          } else {
            cursor = message.cursor;
            break;
          }
        }
      } catch (error) {
        if (stop.signal.aborted) return;
        // Before the first stream, and for any answer the server gave, the error is the caller's.
        if (!opened || !(error instanceof StorageError && error.code === "CONNECTION")) throw error;
      }
      if (stop.signal.aborted) return;
      await sleep(pause, stop.signal);
      pause = Math.min(pause * 2, LAST_RETRY_MS);
    }
  } finally {
    outer?.removeEventListener("abort", onAbort);
    stop.abort();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** The messages of a Server-Sent Events body (event, data and id fields; comments skipped). */
export async function* serverSentMessages(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamMessage> {
  let event = "message";
  let data: string[] = [];
  try {
    for await (const line of linesOf(body)) {
      if (line === "") {
        if (data.length > 0 && (event === "ready" || event === "bar" || event === "dropped")) {
          yield { type: event, ...(JSON.parse(data.join("\n")) as object) } as StreamMessage;
        }
        event = "message";
        data = [];
      } else if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
    }
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof TradeliteError) throw error;
    throw new StorageError("CONNECTION", "the event stream was cut", { cause: error });
  }
  // The server closed the stream (a restart, or the end of a watch): the caller reconnects.
  throw new StorageError("CONNECTION", "the event stream ended");
}

/** The messages of a WebSocket of /v1/stream/ws, until it closes. */
export async function* socketMessages(socket: WebSocket, signal: AbortSignal): AsyncGenerator<StreamMessage> {
  const queue: StreamMessage[] = [];
  let ended: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  socket.addEventListener("message", (message) => {
    queue.push(JSON.parse(String(message.data)) as StreamMessage);
    notify();
  });
  socket.addEventListener("close", (close) => {
    ended = new StorageError("CONNECTION", `the WebSocket closed (${close.code}${close.reason ? ` ${close.reason}` : ""})`);
    notify();
  });
  const onAbort = () => socket.close(1000);
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      if (ended) throw ended;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.close(1000);
  }
}

/** Opens a WebSocket and waits until it is open; a refused upgrade comes back as `refused()`. */
export function openSocket(socket: WebSocket, refused: () => Promise<Error>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    socket.addEventListener("open", () => resolve(socket), { once: true });
    socket.addEventListener("error", () => void refused().then(reject), { once: true });
  });
}
