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
import { CSV_HEADER_LINE, formatBarCsv } from "../domain/bar-format.ts";
import { columnarBarWriter, type ColumnarBarWriter } from "../domain/bar-columnar.ts";
import { SECURE_HEADERS } from "./security.ts";

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
 * Answers with the rows of `rows`, formatted as `format`. The first row is read before the answer
 * starts, so a bad query still gets its 4xx; a failure after that cuts the stream.
 */
export async function streamBars(c: Context, rows: AsyncIterable<Bar>, format: BarFormat): Promise<Response> {
  const iterator = rows[Symbol.asyncIterator]();
  let next: IteratorResult<Bar> | null = await iterator.next();
  if (c.req.method === "HEAD") {
    // Hono answers HEAD with the GET handler's headers and drops its body without cancelling it:
    // a stream left here would hold the store's iteration (and, over workers, one of its slots)
    // open for good. Close it now and answer the headers alone.
    await iterator.return?.();
    return c.body(null, 200, { "Content-Type": CONTENT_TYPES[format] });
  }
  const encoder = new TextEncoder();
  const columnar = format === "parquet" ? columnarBarWriter("parquet") : format === "arrow" ? columnarBarWriter("arrow-stream") : null;
  const line = format === "csv" ? formatBarCsv : (bar: Bar) => `${JSON.stringify(bar)}\n`;
  let rowsSent = 0;
  // Set when the client goes away: a pull still waiting on the store then ends quietly (writing
  // to a cancelled stream throws, and that is not a failure of the store worth logging).
  let cancelled = false;
  // Columnar answers go out a row group at a time: the bytes of one are whole only when it is full.
  const pullColumnar = async (controller: ReadableStreamDefaultController<Uint8Array>, writer: ColumnarBarWriter): Promise<void> => {
    for (;;) {
      if (next === null) next = await iterator.next();
      if (cancelled) return;
      if (next.done) {
        controller.enqueue(writer.finish());
        controller.close();
        return;
      }
      const group = writer.add(next.value);
      next = null;
      if (group !== null) return controller.enqueue(group);
    }
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (format === "csv") controller.enqueue(encoder.encode(CSV_HEADER_LINE));
      if (format === "json") controller.enqueue(encoder.encode("["));
    },
    async pull(controller) {
      try {
        if (columnar !== null) return await pullColumnar(controller, columnar);
        let text = "";
        for (let n = 0; n < CHUNK_ROWS; n++) {
          if (next === null) next = await iterator.next();
          if (cancelled) return;
          if (next.done) break;
          text += format === "json" ? (rowsSent++ === 0 ? "" : ",") + JSON.stringify(next.value) : line(next.value);
          next = null;
        }
        if (text !== "") controller.enqueue(encoder.encode(text));
        if (next?.done) {
          if (format === "json") controller.enqueue(encoder.encode("]"));
          controller.close();
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

const JSON_ANSWER_HEADERS = { "Content-Type": CONTENT_TYPES.json, ...SECURE_HEADERS };

/**
 * Bars as one JSON answer, with its headers (the secure ones included) in one prebuilt object:
 * the hot path of the API, built without hono's header merging. Typed as the JSON answer it is,
 * so routes declare it like c.json().
 */
export function barsJsonResponse(bars: readonly Bar[]): Response & TypedResponse<Bar[], 200, "json"> {
  const text = JSON.stringify(bars);
  // Its length stated: the access log reads it from there instead of from the body.
  return new Response(text, { headers: { ...JSON_ANSWER_HEADERS, "Content-Length": String(Buffer.byteLength(text)) } }) as unknown as Response &
    TypedResponse<Bar[], 200, "json">;
}
