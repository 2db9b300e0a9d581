/**
 * The zod schemas shared by the routes: path parameters and query strings. They check the form
 * of each input (a query string is text); the store then checks the meaning (a timestamp in the
 * store's zone, a range whose start is not after its end) and both answer 422 with the field.
 * Query objects are strict: a misspelled parameter (`startTime` for `start`) is refused, never
 * ignored, so it cannot widen a read or a delete.
 */
import { createRoute, z, type RouteConfig } from "@hono/zod-openapi";
import { INTERVALS, ORDERS } from "../domain/query.ts";
import { ADJUST_MODES } from "../domain/adjusted-bars.ts";
import { ENCODINGS } from "../import/bar-file.ts";
import { AMOUNT_UNITS, PROFILE_NAMES, VOLUME_UNITS } from "../import/profiles.ts";
import { MAX_SYMBOL_LENGTH, symbolProblem } from "../domain/symbol.ts";

export const SymbolParam = z.object({
  symbol: z
    .string()
    .superRefine((value, ctx) => {
      const problem = symbolProblem(value);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
    })
    .openapi({
      param: { name: "symbol", in: "path" },
      example: "600519.SH",
      description: `1 to ${MAX_SYMBOL_LENGTH} printable characters, NFC; percent-encode reserved characters`,
    }),
});

const DIGITS = /^-?\d{1,16}$/;
const TIMESTAMP_TEXT = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * A range bound in a query string: epoch milliseconds (digits), a date alone (`2024-01-15` or
 * `20240115`: exactly 8 digits are a date) or ISO-8601 (with an offset, or naive and read in the
 * store's zone). Anything else is refused here; the text goes to the store as it is, which reads
 * it by the one date rule (toRangeBound in src/domain/time.ts): a date as `end` is the whole day.
 */
export const TimestampQuery = z
  .string()
  .max(40)
  .refine((text) => DIGITS.test(text) || TIMESTAMP_TEXT.test(text), "expected epoch milliseconds, a date (YYYY-MM-DD or YYYYMMDD) or an ISO-8601 date-time")
  .openapi({ type: "string", example: "2024-01-02T09:30:00+08:00" });

/**
 * An instant in a query string (`asOf`), for an option the store reads with toEpochMs rather
 * than as a range bound: digits become the epoch-ms number they are (8 digits stay a date).
 */
export const InstantQuery = TimestampQuery.transform((text) => (DIGITS.test(text) && !/^\d{8}$/.test(text) ? Number(text) : text)).openapi({
  type: "string",
  example: "2024-07-11T09:20:00+08:00",
});

/** A positive whole number in a query string, without coercing anything else. */
export const LimitQuery = z
  .string()
  .regex(/^[1-9]\d{0,14}$/, "expected a positive whole number")
  .transform(Number)
  .openapi({ type: "string", example: "240" });

export const OrderQuery = z.enum(ORDERS);
export const IntervalQuery = z.enum(INTERVALS);

export const RangeQuerySchema = z.strictObject({
  start: TimestampQuery.optional(),
  end: TimestampQuery.optional(),
});

export const ListQuerySchema = z.strictObject({
  start: TimestampQuery.optional(),
  end: TimestampQuery.optional(),
  limit: LimitQuery.optional(),
  order: OrderQuery.optional(),
});

export const NameParam = (name: string, example: string) =>
  z.object({
    [name]: z.string().min(1).max(256).openapi({ param: { name, in: "path" }, example }),
  });

/** Drops the keys whose value is undefined (the store refuses unknown keys, not undefined ones). */
export function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Any JSON value. zod's z.json() is recursive, which the OpenAPI generator cannot walk; a body
 * parsed from JSON is JSON already, and the store checks sizes and shapes.
 */
export const JsonValueSchema = z.unknown().openapi({ description: "any JSON value" });

/**
 * A query string's parameters as the validator middleware gives them to zod: one value each as a
 * string, a repeated one as an array (which the schemas refuse: `?start=1&start=2` is not
 * silently read as one of them).
 */
export function singleValued(queries: Record<string, string[]>): Record<string, string | string[]> {
  const result: Record<string, string | string[]> = {};
  for (const key in queries) {
    const values = queries[key]!;
    result[key] = values.length === 1 ? values[0]! : values;
  }
  return result;
}

/** The query of a route that takes none: any parameter is refused (422), not ignored. */
export const NoQuery = z.strictObject({});

/**
 * createRoute, with a strict empty query for routes that declare none, so that every route
 * refuses a parameter it does not know (a `?dryRun=true` must not be silently ignored).
 */
export function route<R extends RouteConfig>(config: R): R {
  const request = config.request ?? {};
  // Every operation takes the bearer token when the server has tokens: the document says so on
  // each one (a route open without one, /health, says `security: []`).
  return createRoute({ security: [{ bearer: [] }], ...config, request: { ...request, query: request.query ?? NoQuery } }) as R;
}

/** One bar as the JSON uploads take it (POST /v1/bars and /v1/cache). */
export const BarInputSchema = z.strictObject({
  timestamp: z.union([z.number(), z.string().max(64)]).openapi({ description: "epoch ms, or ISO-8601 (naive: the store's zone)" }),
  open: z.number().nullable().optional(),
  high: z.number().nullable().optional(),
  low: z.number().nullable().optional(),
  close: z.number().nullable().optional(),
  volume: z.number().nullable().optional(),
  amount: z.number().nullable().optional(),
});

/** How a text (CSV) bar upload is read: the importer's options (src/import/profiles.ts). */
export const UploadQuery = z.strictObject({
  profile: z.enum(PROFILE_NAMES).optional().openapi({ description: "the file's vendor profile; omitted, detected from the header" }),
  volumeUnit: z.enum(VOLUME_UNITS).optional().openapi({ description: "the volume column's unit over the profile's (lots: 手, 100 shares)" }),
  amountUnit: z.enum(AMOUNT_UNITS).optional().openapi({ description: "the amount column's unit over the profile's (thousands: 千元)" }),
  adjusted: z.enum(["true"]).optional().openapi({ description: "store forward- or back-adjusted prices as the bars (refused otherwise)" }),
  file: z.string().max(64).optional().openapi({ description: "the TDX file name of an application/octet-stream upload (sz000001.day, sh600519.lc1): its exchange, code and kind" }),
});

/** What a text upload was read as (in the answer to a CSV upload). */
export const FileReadingSchema = z.object({
  profile: z.enum(PROFILE_NAMES),
  encoding: z.enum(ENCODINGS as ["utf-8", "gbk"]),
  conversions: z.array(z.string()),
  assumed: z.array(z.string()),
  ignored: z.array(z.string()),
});

/** The answer to a bar upload: rows written, and for a text file how it was read. */
export const WrittenSchema = z.object({ written: z.number().int(), file: FileReadingSchema.optional() });

/** A read's adjustment options in a query string (GET /v1/bars, /v1/cross-section). */
export const ADJUST_QUERY = {
  adjust: z.enum(ADJUST_MODES).optional().openapi({ description: "none (raw, the default), qfq (forward-adjusted: the latest prices raw) or hfq (back-adjusted: raw x factor); each stored bar before resampling" }),
  asOf: InstantQuery.optional().openapi({ description: "with adjust: only factors known at this instant count (point in time); default now" }),
  adjustVolume: z
    .enum(["true", "false"])
    .transform((text) => text === "true")
    .optional()
    .openapi({ type: "string", description: "with adjust: true divides volume by the price ratio too (amount stays raw)" }),
};
