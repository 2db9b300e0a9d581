/**
 * Request bodies: the size limit (ours, so the 413 has the API's error shape, and counted while a
 * chunked body streams instead of being buffered first), strict UTF-8 JSON, and the bar uploads:
 * a text file read by the importer as it arrives into typed columns (never the whole text, never
 * an object per row), or a JSON array (json-array.ts).
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import type { BarColumns, BarInput } from "../domain/bar.ts";
import { CSV_HEADER } from "../domain/bar-format.ts";
import type { StoredInterval } from "../domain/daily.ts";
import type { Issue } from "../domain/errors.ts";
import { BarFileError, importBarFile, type BadRow, type BarFileSummary, type Encoding } from "../import/bar-file.ts";
import type { AmountUnit, ProfileName, VolumeUnit } from "../import/profiles.ts";
import { ApiError, MAX_REPORTED_ISSUES } from "./errors.ts";
import { BINARY_TYPES, binaryKind, readBinaryBarFile } from "./bar-files.ts";
import { readJsonArray } from "./json-array.ts";
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


const COLUMNS = CSV_HEADER.split(",") as (keyof BarColumns)[];
const VALUE_COLUMNS = COLUMNS.slice(1) as (keyof Omit<BarColumns, "timestamp">)[];

/** The charset labels a text upload may name (GB2312 and GB18030 files are read by the GBK decoder, which is GB18030's). */
const CHARSETS: Record<string, Encoding> = { "utf-8": "utf-8", utf8: "utf-8", gbk: "gbk", gb2312: "gbk", gb18030: "gbk" };

/** How a text upload is read (the query of POST /v1/bars and /v1/cache; see UploadQuery). */
export interface UploadOptions {
  timeZone: string;
  /** The route's symbol: a file with a code column may name only this one. */
  symbol: string;
  interval?: StoredInterval;
  profile?: ProfileName;
  volumeUnit?: VolumeUnit;
  amountUnit?: AmountUnit;
  adjusted?: boolean;
  /** A TDX binary upload's file name (sz000001.day): its exchange, code and kind. */
  file?: string;
}

/** What a text upload was read as, for the answer (the CLI's summary says the same). */
export interface UploadReading {
  profile: ProfileName;
  encoding: Encoding;
  conversions: string[];
  assumed: string[];
  ignored: string[];
}

/**
 * Bars in growing Float64Array columns (8 bytes a value). An empty field is NaN here; a column
 * that has any becomes an array with null in those places at the end, the form in which the
 * store takes NULL (it refuses NaN in a typed array as a value that is not a number).
 */
export class ColumnBuilder {
  length = 0;
  columns: Float64Array[] = COLUMNS.map(() => new Float64Array(4_096));
  readonly hasNull: boolean[] = COLUMNS.map(() => false);

  /** Appends a batch the importer read. */
  append(batch: BarColumns): void {
    const count = batch.timestamp.length;
    while (this.length + count > this.columns[0]!.length) {
      this.columns = this.columns.map((column) => {
        const grown = new Float64Array(column.length * 2);
        grown.set(column);
        return grown;
      });
    }
    COLUMNS.forEach((name, i) => {
      const source = batch[name] as ArrayLike<number | null> | undefined;
      const column = this.columns[i]!;
      for (let k = 0; k < count; k++) {
        const value = source?.[k] ?? null;
        if (value === null) this.hasNull[i] = true;
        column[this.length + k] = value === null ? Number.NaN : value;
      }
    });
    this.length += count;
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
 * Reads a text bar upload with the importer (src/import/bar-file.ts), the one reader of bar
 * text: any profile it knows (the cache file's header, a TDX export, a Tushare or AKShare file
 * ...), UTF-8 or GBK (`charset=gbk`, or detected), streamed piece by piece. Nothing is written
 * here: the caller stores the whole upload at once, so it is all or nothing. A file that cannot
 * be read (no header it knows, bytes that are not text, a row that is not one CSV record) is a
 * 400; rows that can be read but are not valid bars are a 422 listing the first 100 with the
 * total (every row is read to count them). `row` counts data lines after the header from 0.
 */
export async function readBarText(c: Context, options: UploadOptions): Promise<{ bars: BarColumns; reading: UploadReading; daily: boolean }> {
  const body = c.req.raw.body;
  if (!body) throw new ApiError(400, `empty CSV body; expected a header such as ${CSV_HEADER}`);
  const label = /;\s*charset=("?)([\w-]+)\1/i.exec(c.req.header("content-type") ?? "")?.[2]?.toLowerCase();
  const charset = label === undefined ? undefined : CHARSETS[label];
  if (label !== undefined && charset === undefined) {
    throw new ApiError(415, `charset=${label.slice(0, 20)}: a bar upload is UTF-8 or GBK (${Object.keys(CHARSETS).join(", ")})`);
  }
  const builder = new ColumnBuilder();
  const issues: Issue[] = [];
  let total = 0;
  let malformed: Issue | null = null;
  let headerLine = 1;
  const onBadRow = (bad: BadRow) => {
    const field = /^(\w+): /.exec(bad.reason)?.[1];
    const issue: Issue = {
      row: bad.line - headerLine - 1,
      ...(field === undefined ? {} : { field: field === "time" ? "timestamp" : field }),
      message: field === undefined ? bad.reason : bad.reason.slice(field.length + 2),
    };
    // Rows that are not one CSV record say the body cannot be read: 400, as a bad header.
    if (field === undefined || field === "CSV") malformed ??= issue;
    if (total++ < MAX_REPORTED_ISSUES) issues.push(issue);
  };
  let summary: BarFileSummary;
  try {
    summary = await importBarFile(body, {
      timeZone: options.timeZone,
      skipBad: true,
      ...(options.interval ? { interval: options.interval } : {}),
      ...(options.profile ? { profile: options.profile } : {}),
      ...(options.volumeUnit ? { volumeUnit: options.volumeUnit } : {}),
      ...(options.amountUnit ? { amountUnit: options.amountUnit } : {}),
      ...(options.adjusted ? { adjusted: true } : {}),
      ...(charset ? { encoding: charset } : {}),
      onHeader: (_header, line) => {
        headerLine = line;
      },
      onBadRow,
      write: async (bars, _lines, symbol) => {
        assertRouteSymbol(symbol, options.symbol, "code");
        // After the first bad row nothing will be written: rows are read only to count problems.
        if (total === 0) builder.append(bars);
        return bars.timestamp.length;
      },
    });
  } catch (error) {
    throw asUploadError(error);
  }
  if (malformed) throw new ApiError(400, `the CSV body cannot be read: ${(malformed as Issue).message}`, issues.slice(0, MAX_REPORTED_ISSUES), "MALFORMED");
  if (total > 0) {
    const failure = new ApiError(422, `invalid CSV rows: ${total} problem(s); nothing was written`, issues, "VALIDATION");
    failure.total = total;
    throw failure;
  }
  const header = summary.header!;
  return {
    // Dates alone are daily bars: the route stores them as the daily series, as the CLI does.
    daily: header.time.kind === "date",
    bars: builder.result(),
    reading: { profile: header.profile, encoding: summary.encoding.name, conversions: header.conversions, assumed: header.assumed, ignored: header.ignored },
  };
}

/** A file's rows of `symbol` may go to the route's symbol only (a file of several is for tradelite import). */
export function assertRouteSymbol(symbol: string | null, route: string, field: string): void {
  if (symbol !== null && symbol !== route) {
    throw new ApiError(422, `the file holds bars of ${symbol}; this route writes ${route} (import a file of several symbols with tradelite import)`, [{ field, message: `${symbol} is not ${route}` }], "VALIDATION");
  }
}

/** An importer's refusal of a whole file as the API's 400; anything else as it was. */
export function asUploadError(error: unknown): unknown {
  return error instanceof BarFileError ? new ApiError(400, error.message, [{ field: "file", message: error.message }], "MALFORMED") : error;
}

/**
 * A bar upload: text/csv (readBarText) or a JSON array of BarInputSchema (read as it arrives,
 * json-array.ts); any other type is refused before reading.
 */
export async function readBarUpload(c: Context, options: UploadOptions): Promise<{ bars: BarColumns | BarInput[]; reading: UploadReading | null; daily: boolean }> {
  const type = (c.req.header("content-type") ?? "").toLowerCase();
  if (type.startsWith("text/csv")) return readBarText(c, options);
  if (JSON_TYPE.test(type)) return { bars: (await readJsonArray(c, BarInputSchema)) as BarInput[], reading: null, daily: false };
  const binary = binaryKind(type);
  if (binary) return { bars: await readBinaryBarFile(c, binary, options), reading: null, daily: false };
  throw new ApiError(415, `a bar upload is application/json (an array of bars), text/csv (a bar file: the cache file's header, or a vendor's), or a binary bar file (${BINARY_TYPES})`);
}
