/**
 * Streamed answers: CSV, NDJSON, large JSON arrays of bars, and Parquet and Arrow, written page by
 * page (Parquet: row group by row group, the footer last) as the client reads (a pull-based
 * ReadableStream: nothing is read from the store faster than the socket drains). hono/streaming's helper is not used because it ends a stream that failed half-way as
 * if it were complete; here a failure errors the stream, so the client sees the connection cut
 * instead of a CSV that silently stops.
 */
import { STREAMED } from "./access-log.ts";
import type { Context, TypedResponse } from "hono";
import type { Bar } from "../domain/bar.ts";
import { CSV_HEADER_LINE } from "../domain/bar-format.ts";
import { columnarBarWriter } from "../domain/bar-columnar.ts";
import { barTextChunk, type BarTextFormat } from "../domain/bar-text.ts";
import { DATA_HEADERS } from "./security.ts";

export type BarFormat = "json" | "csv" | "ndjson" | "parquet" | "arrow";

export const CONTENT_TYPES: Record<BarFormat, string> = {
  json: "application/json",
  csv: "text/csv; charset=utf-8",
  ndjson: "application/x-ndjson",
  parquet: "application/vnd.apache.parquet",
  // The IPC stream format: a client reads its batches as they arrive, nothing seeks back.
  arrow: "application/vnd.apache.arrow.stream",
};

/** Rows formatted into one chunk: big enough to amortise the stream's cost, small enough to flow. */
const CHUNK_ROWS = 2_048;

/**
 * Answers with the rows of `rows`, formatted as `format`. The first rows are read before the
 * answer starts, so a bad query still gets its 4xx; a failure after that cuts the stream.
 */
export async function streamBars(c: Context, rows: AsyncIterable<Bar>, format: BarFormat): Promise<Response> {
  if (format === "parquet" || format === "arrow") return streamColumnar(c, rows, format);
  return streamBarText(c, textChunks(rows, format), format);
}

/**
 * Rows as barTextChunk's text, CHUNK_ROWS at a time (what a worker store's reader sends as bytes
 * a page at a time). The first row is a chunk of its own: the answer starts once it is read.
 */
async function* textChunks(rows: AsyncIterable<Bar>, format: BarTextFormat): AsyncGenerator<string> {
  let chunk: Bar[] = [];
  let first = true;
  for await (const bar of rows) {
    chunk.push(bar);
    if (chunk.length === CHUNK_ROWS || first) {
      first = false;
      yield barTextChunk(chunk, format);
      chunk = [];
    }
  }
  if (chunk.length > 0) yield barTextChunk(chunk, format);
}

/**
 * Answers with chunks of barTextChunk's text (strings formatted here, or the bytes a worker
 * store's reader made): the CSV header or the JSON brackets and commas around them.
 */
export function streamBarText(c: Context, chunks: AsyncIterable<string | Uint8Array>, format: BarTextFormat): Promise<Response> {
  const encoder = new TextEncoder();
  const comma = encoder.encode(",");
  let first = true;
  return streamAnswer(c, chunks, format, {
    head: format === "csv" ? encoder.encode(CSV_HEADER_LINE) : format === "json" ? encoder.encode("[") : null,
    piece(chunk) {
      const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
      const separated = format === "json" && !first;
      first = false;
      return separated ? [comma, bytes] : [bytes];
    },
    tail: () => (format === "json" ? encoder.encode("]") : null),
  });
}

/** Parquet and Arrow go out a row group at a time: the bytes of one are whole only when it is full. */
function streamColumnar(c: Context, rows: AsyncIterable<Bar>, format: "parquet" | "arrow"): Promise<Response> {
  const writer = columnarBarWriter(format === "parquet" ? "parquet" : "arrow-stream");
  return streamAnswer(c, rows, format, {
    head: null,
    piece(bar) {
      const group = writer.add(bar);
      return group === null ? [] : [group];
    },
    tail: () => writer.finish(),
  });
}

/** How a streamed answer turns what it reads into bytes. */
interface AnswerWriter<T> {
  head: Uint8Array | null;
  /** The bytes for one value read; none while a piece is not whole yet (a row group). */
  piece(value: T): Uint8Array[];
  tail(): Uint8Array | null;
}

/**
 * The streamed answer itself: the first value is read before it starts, then one piece per pull.
 * Hono answers HEAD with the GET handler's headers and drops its body without cancelling it: a
 * stream left open would hold the store's iteration (and, over workers, one of its slots) for
 * good, so a HEAD closes it at once and answers the headers alone.
 */
async function streamAnswer<T>(c: Context, values: AsyncIterable<T>, format: BarFormat, writer: AnswerWriter<T>): Promise<Response> {
  const iterator = values[Symbol.asyncIterator]();
  let next: IteratorResult<T> | null = await iterator.next();
  if (c.req.method === "HEAD") {
    await iterator.return?.();
    return c.body(null, 200, { "Content-Type": CONTENT_TYPES[format] });
  }
  // Set when the client goes away: a pull still waiting on the store then ends quietly (writing
  // to a cancelled stream throws, and that is not a failure of the store worth logging).
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (writer.head !== null) controller.enqueue(writer.head);
    },
    async pull(controller) {
      try {
        for (;;) {
          if (next === null) next = await iterator.next();
          if (cancelled) return;
          if (next.done) {
            const tail = writer.tail();
            if (tail !== null) controller.enqueue(tail);
            controller.close();
            return;
          }
          const pieces = writer.piece(next.value);
          next = null;
          for (const piece of pieces) controller.enqueue(piece);
          if (pieces.length > 0) return;
        }
      } catch (error) {
        if (cancelled) return;
        const log = (c.get("logError" as never) as ((error: unknown, c: Context) => void) | undefined) ?? ((e: unknown) => console.error(e));
        log(error, c);
        controller.error(error);
      }
    },
    async cancel() {
      // The client went away: stop reading the store.
      cancelled = true;
      await iterator.return?.();
    },
  }, { highWaterMark: 0 });
  c.set(STREAMED as never, true as never);
  return c.body(body, 200, { "Content-Type": CONTENT_TYPES[format] });
}

const JSON_ANSWER_HEADERS = { "Content-Type": CONTENT_TYPES.json, ...DATA_HEADERS };

/**
 * Bars as one JSON answer, with its headers (the data's secure ones, DATA_HEADERS) in one prebuilt object:
 * the hot path of the API, built without hono's header merging. Typed as the JSON answer it is,
 * so routes declare it like c.json().
 */
export function barsJsonResponse(bars: readonly Bar[] | Uint8Array): Response & TypedResponse<Bar[], 200, "json"> {
  // Bytes a worker store's reader made are JSON.stringify's of the same rows (bar-text.ts).
  const body = bars instanceof Uint8Array ? bars : JSON.stringify(bars);
  // Its length stated: the access log reads it from there instead of from the body.
  const length = typeof body === "string" ? Buffer.byteLength(body) : body.byteLength;
  return new Response(body, { headers: { ...JSON_ANSWER_HEADERS, "Content-Length": String(length) } }) as unknown as Response &
    TypedResponse<Bar[], 200, "json">;
}
