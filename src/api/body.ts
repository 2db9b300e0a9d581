/**
 * Request bodies: the size limit (ours, so the 413 has the API's error shape, and counted while a
 * chunked body streams instead of being buffered first), and the CSV bar upload, parsed with
 * papaparse as it arrives into typed columns: never the whole text, never an object per row.
 */
import Papa from "papaparse";
import type { Context, MiddlewareHandler, Next } from "hono";
import type { BarColumns, BarInput } from "../domain/bar.ts";
import { CSV_HEADER } from "../domain/bar-format.ts";
import type { Issue } from "../domain/errors.ts";
import { CsvRecordTooLongError, MAX_CSV_RECORD_CHARS, RowSplitter } from "../domain/csv-rows.ts";
import { TimestampError, toEpochMs } from "../domain/time.ts";
import { ApiError, MAX_REPORTED_ISSUES } from "./errors.ts";
import { pauses, readJsonArray, utf8Pieces } from "./json-array.ts";
import { BarInputSchema } from "./schemas.ts";

/** Set on the context when a chunked body went over the limit while something was reading it. */
export const BODY_TOO_LARGE = "bodyTooLarge";

/**
 * Refuses a body over `maxBytes`: at once when Content-Length says so, or as soon as a chunked
 * body's running count passes it (the read fails, and the answer is a 413 either way).
 */
export function bodyLimit(maxBytes: number): MiddlewareHandler {
  return async (c, next) => {
    const method = c.req.method;
    if (method === "GET" || method === "HEAD") return next();
    const raw = c.req.raw;
    if (!raw.body) return next();
    const declared = raw.headers.get("content-length");
    if (declared !== null && !raw.headers.has("transfer-encoding")) {
      if (!/^\d+$/.test(declared)) throw new ApiError(400, "malformed Content-Length");
      if (Number(declared) > maxBytes) throw tooLarge(maxBytes);
      return next();
    }
    let size = 0;
    const counted = raw.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          size += chunk.byteLength;
          if (size > maxBytes) {
            c.set(BODY_TOO_LARGE as never, true as never);
            controller.error(tooLarge(maxBytes));
            return;
          }
          controller.enqueue(chunk);
        },
      }),
    );
    c.req.raw = new Request(raw, { body: counted, duplex: "half" } as RequestInit);
    await next();
    // A reader (the JSON parser, say) may have turned the failed read into a 400 of its own.
    if (c.get(BODY_TOO_LARGE as never)) throw tooLarge(maxBytes);
  };
}

/** application/json and its +json relatives. */
export const JSON_TYPE = /^application\/([\w.-]+\+)?json\b/i;
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A request body as text, refused with a 400 when it is not UTF-8: the runtime's own text()
 * and json() put U+FFFD in place of bad bytes, which then were stored as if sent.
 */
export async function readUtf8Text(request: Request): Promise<string> {
  const bytes = await request.arrayBuffer();
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    throw new ApiError(400, "the request body is not valid UTF-8", { where: "body" }, "MALFORMED");
  }
}

/**
 * Makes a JSON body decode strictly when a route's validator reads it: Hono's c.req.json() looks
 * in its body cache first, and finds there a getter that reads the body only when asked. Routes
 * that stream a body (the JSON array uploads, json-array.ts) never ask, and read it piece by
 * piece themselves; an eager read here held a whole 64 MiB body before they saw a byte.
 */
export function strictJsonBody(c: Context, next: Next): Promise<void> {
  const raw = c.req.raw;
  const type = raw.headers.get("content-type");
  if (!raw.body || type === null || !JSON_TYPE.test(type)) return next();
  let text: Promise<string> | undefined;
  // Hono keeps promises there (its type says values); enumerable, as Hono derives the other
  // forms of a body from whichever it finds cached.
  Object.defineProperty(c.req.bodyCache, "text", { enumerable: true, configurable: true, get: () => (text ??= readUtf8Text(raw)) });
  return next();
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, `request body is over the limit of ${maxBytes} bytes (TRADELITE_MAX_BODY)`);
}


const NUMBER = /^-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;
const COLUMNS = CSV_HEADER.split(",");
const VALUE_COLUMNS = COLUMNS.slice(1) as (keyof Omit<BarColumns, "timestamp">)[];

/**
 * Bars in growing Float64Array columns (8 bytes a value). An empty field is NaN here; a column
 * that has any becomes an array with null in those places at the end, the form in which the
 * store takes NULL (it refuses NaN in a typed array as a value that is not a number).
 */
class ColumnBuilder {
  length = 0;
  columns: Float64Array[] = COLUMNS.map(() => new Float64Array(4_096));
  readonly hasNull: boolean[] = COLUMNS.map(() => false);

  push(values: readonly number[]): void {
    if (this.length === this.columns[0]!.length) {
      this.columns = this.columns.map((column) => {
        const grown = new Float64Array(column.length * 2);
        grown.set(column);
        return grown;
      });
    }
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      if (value !== value) this.hasNull[i] = true;
      this.columns[i]![this.length] = value;
    }
    this.length++;
  }

  result(): BarColumns {
    const [timestamp, ...values] = this.columns.map((column) => column.subarray(0, this.length));
    const bars: BarColumns = { timestamp: timestamp! };
    VALUE_COLUMNS.forEach((name, i) => {
      const column = values[i]!;
      bars[name] = this.hasNull[i + 1] ? Array.from(column, (value) => (value === value ? value : null)) : column;
    });
    return bars;
  }
}

/**
 * Reads a `text/csv` bar upload: the header names the cache file's seven columns (any order,
 * each once), timestamps are ISO-8601 (naive ones in `timeZone`), values are plain decimal numbers
 * or empty for NULL. Structure that cannot be read (no header, a missing or unknown column, a bad
 * quote, a row with the wrong number of fields) is a 400; values that can be read but are not
 * valid are a 422 listing each (the store's bar rules run after this, on the whole upload).
 */
export async function readBarCsv(c: Context, timeZone: string): Promise<BarColumns> {
  const body = c.req.raw.body;
  if (!body) throw new ApiError(400, `empty CSV body; expected the header ${CSV_HEADER}`);
  const builder = new ColumnBuilder();
  const issues: Issue[] = [];
  let total = 0;
  const report = (issue: Issue) => {
    // Every problem is counted; the first MAX_REPORTED_ISSUES are listed (errors.ts).
    if (total++ < MAX_REPORTED_ISSUES) issues.push(issue);
  };
  let order: number[] | null = null;
  let record = 0;
  let first = true;
  const values = new Array<number>(COLUMNS.length);

  const readRows = (rows: string[][]) => {
    for (const fields of rows) {
      if (order === null) {
        order = readHeader(fields);
        continue;
      }
      record++;
      if (fields.length !== COLUMNS.length) {
        throw new ApiError(400, `CSV record ${record} has ${fields.length} fields; the header has ${COLUMNS.length}`, [{ row: record - 1, message: "wrong number of fields" }]);
      }
      let ok = true;
      for (let f = 0; f < COLUMNS.length; f++) {
        const column = order[f]!;
        const text = fields[f]!;
        if (column === 0) {
          try {
            values[0] = toEpochMs(text, timeZone);
          } catch (error) {
            if (!(error instanceof TimestampError)) throw error;
            report({ row: record - 1, field: "timestamp", message: error.reason });
            ok = false;
          }
        } else if (text === "") {
          values[column] = Number.NaN;
        } else if (NUMBER.test(text)) {
          values[column] = Number(text);
        } else {
          report({ row: record - 1, field: COLUMNS[column]!, message: `not a number: ${JSON.stringify(text.slice(0, 40))}` });
          ok = false;
        }
      }
      // After the first problem nothing will be written: rows are read only to count problems.
      if (ok && total === 0) builder.push(values);
    }
  };

  // The line ending is read once, from the header line, and held for every piece: papaparse
  // guessing it per piece would parse the same bytes differently depending on how they arrived.
  let newline: "\n" | "\r\n" | undefined;
  const parse = (text: string) => {
    if (text === "") return;
    newline ??= text.indexOf("\n") > 0 && text[text.indexOf("\n") - 1] === "\r" ? "\r\n" : "\n";
    const parsed = Papa.parse<string[]>(text, { header: false, delimiter: ",", newline, skipEmptyLines: "greedy" });
    if (parsed.errors.length > 0) {
      const error = parsed.errors[0]!;
      throw new ApiError(400, `CSV record ${record + (error.row ?? 0) + (order === null ? 0 : 1)}: ${error.message}`, parsed.errors.slice(0, 10).map((e) => ({ message: `${e.code}: ${e.message}` })));
    }
    readRows(parsed.data);
  };

  const rows = new RowSplitter();
  const splitter = {
    push(piece: string): string {
      try {
        return rows.push(piece);
      } catch (error) {
        if (error instanceof CsvRecordTooLongError) throw new ApiError(400, error.message);
        throw error;
      }
    },
    rest: () => rows.rest(),
  };
  const pause = pauses();
  for await (let text of utf8Pieces(body)) {
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    // Parsed in bounded pieces, with pauses between them (json-array.ts).
    for (let at = 0; at < text.length; at += PARSE_PIECE_CHARS) {
      parse(splitter.push(text.slice(at, at + PARSE_PIECE_CHARS)));
      await pause();
    }
  }
  parse(splitter.rest());
  if (order === null) throw new ApiError(400, `empty CSV body; expected the header ${CSV_HEADER}`);
  if (total > 0) {
    const failure = new ApiError(422, `invalid CSV values: ${total} problem(s); nothing was written`, issues);
    failure.total = total;
    throw failure;
  }
  return builder.result();
}

/** Maps the header's columns to ours; a missing, unknown or repeated column is a 400. */
function readHeader(fields: string[]): number[] {
  const names = fields.map((field) => field.trim());
  const missing = COLUMNS.filter((column) => !names.includes(column));
  const unknown = names.filter((name) => !COLUMNS.includes(name));
  const repeated = names.filter((name, i) => names.indexOf(name) !== i);
  if (missing.length > 0 || unknown.length > 0 || repeated.length > 0) {
    const problems = [
      missing.length > 0 ? `missing ${missing.join(", ")}` : "",
      unknown.length > 0 ? `unknown ${unknown.map((name) => JSON.stringify(name.slice(0, 40))).join(", ")}` : "",
      repeated.length > 0 ? `repeated ${repeated.join(", ")}` : "",
    ].filter(Boolean);
    throw new ApiError(400, `CSV header must name ${CSV_HEADER} (any order): ${problems.join("; ")}`, [{ row: 0, field: "header", message: problems.join("; ") }]);
  }
  return names.map((name) => COLUMNS.indexOf(name));
}

/** Text parsed between checks of the clock (about 2 ms of papaparse here). */
const PARSE_PIECE_CHARS = 16 * 1024;

export { MAX_CSV_RECORD_CHARS };

/**
 * A bar upload: text/csv (readBarCsv) or a JSON array of BarInputSchema (read as it arrives,
 * json-array.ts); any other type is refused before reading.
 */
export async function readBarUpload(c: Context, timeZone: string): Promise<BarColumns | BarInput[]> {
  const type = (c.req.header("content-type") ?? "").toLowerCase();
  if (type.startsWith("text/csv")) return readBarCsv(c, timeZone);
  if (JSON_TYPE.test(type)) return readJsonArray(c, BarInputSchema) as Promise<BarInput[]>;
  throw new ApiError(415, "a bar upload is application/json (an array of bars) or text/csv (the cache file's header)");
}
