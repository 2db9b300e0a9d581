/**
 * /v1/bars/{symbol}: read (JSON, CSV, NDJSON, Parquet or Arrow; large answers streamed; raw, or
 * adjusted with the stored factors as of an instant), write (a JSON array or a
 * CSV upload, all-or-nothing), delete a range, and the latest bar.
 */
import { z } from "@hono/zod-openapi";
import { BarSchema } from "../domain/bar.ts";
import { barTextOf } from "../domain/bar-text.ts";
import { CSV_HEADER } from "../domain/bar-format.ts";
import { ALIGNS, BAR_SOURCES, BAR_TIMESTAMPS, FILLS, type BarQuery } from "../domain/query.ts";
import { STORED_INTERVALS } from "../domain/daily.ts";
import { BINARY_CONTENT } from "./bar-files.ts";
import { readBarUpload } from "./body.ts";
import { jsonArrayContent } from "./json-array.ts";
import type { Api } from "./context.ts";
import { ApiError, errorResponses, parseWith } from "./errors.ts";
import { ADJUST_QUERY, BarInputSchema, defined, UploadQuery, WrittenSchema, IntervalQuery, LimitQuery, OrderQuery, RangeQuerySchema, route, singleValued, SymbolParam, TimestampQuery } from "./schemas.ts";
import { barsJsonResponse, CONTENT_TYPES, streamBars, streamBarText } from "./stream.ts";

/** JSON answers up to this many rows are read whole and written in one piece; longer ones stream. */
export const JSON_WHOLE_ROWS = 10_000;

const BarsQuery = z.strictObject({
  start: TimestampQuery.optional(),
  end: TimestampQuery.optional(),
  limit: LimitQuery.optional(),
  order: OrderQuery.optional(),
  interval: IntervalQuery.optional(),
  barTimestamp: z.enum(BAR_TIMESTAMPS).optional(),
  align: z.enum(ALIGNS).optional().openapi({ description: "bucket alignment when resampling: clock (default) or session (the symbol's exchange calendar)" }),
  fill: z.enum(FILLS).optional().openapi({ description: "previous: a bar missing from the symbol's calendar grid comes back at the previous close with zero volume, flagged filled: true" }),
  source: z.enum(BAR_SOURCES).optional().openapi({
    description: "with interval=1d only: stored (the daily bars imported as such), minutes (days resampled from the minute bars); omitted, stored days where they exist and resampled ones elsewhere",
  }),
  ...ADJUST_QUERY,
  format: z.enum(["json", "csv", "ndjson", "parquet", "arrow"]).optional().openapi({
    description: "csv, ndjson, parquet and arrow (the Arrow IPC stream format) stream; parquet comes a row group of 65,536 bars at a time, its footer last",
  }),
});

/** Which stored series a write or delete works on: omitted, the bars as written (minutes). */
const SeriesQuery = z.strictObject({
  interval: z.enum(STORED_INTERVALS).optional().openapi({ description: "1d: the stored daily series (each bar at its date's local midnight: a date alone is one); omitted: the bars as written" }),
});

const MissingRangeSchema = z.object({ start: z.number().int(), end: z.number().int() });
const CompletenessSchema = z.object({
  calendar: z.string(),
  days: z.array(z.object({ date: z.string(), expected: z.number().int(), present: z.number().int(), missing: z.array(MissingRangeSchema) })),
  outside: z.number().int().describe("bars on trading days off the sessions' minute grid"),
  nonTradingDays: z.array(z.string()).describe("dates with bars that the calendar says were closed"),
});

const DeleteQuery = RangeQuerySchema.extend({
  all: z.enum(["true"]).optional().openapi({ description: "required to delete every bar of the symbol (no start or end)" }),
}).extend(SeriesQuery.shape);


export function barRoutes(app: Api): void {
  // The hot route: registered in the OpenAPI document like the others, but served by a plain
  // handler that validates with the same zod schemas synchronously instead of through two async
  // validator middlewares (measured: ~10 us of a one-day answer's ~200 us). Same schemas, same
  // 422s.
  app.openAPIRegistry.registerPath(
    route({
      method: "get",
      path: "/v1/bars/{symbol}",
      summary: "Bars in an inclusive range, optionally resampled; format=csv, ndjson, parquet or arrow streams",
      request: { params: SymbolParam, query: BarsQuery },
      responses: {
        200: {
          description: "the bars, ascending unless order=desc",
          content: {
            "application/json": { schema: z.array(BarSchema) },
            [CONTENT_TYPES.csv]: { schema: z.string().openapi({ example: `${CSV_HEADER}\n` }) },
            [CONTENT_TYPES.ndjson]: { schema: z.string() },
            [CONTENT_TYPES.parquet]: { schema: z.string().openapi({ format: "binary" }) },
            [CONTENT_TYPES.arrow]: { schema: z.string().openapi({ format: "binary" }) },
          },
        },
        ...errorResponses(),
      },
    }),
  );
  app.get("/v1/bars/:symbol", async (c) => {
    const { symbol } = parseWith(SymbolParam, { symbol: c.req.param("symbol") }, "param");
    const { format = "json", ...rest } = parseWith(BarsQuery, singleValued(c.req.queries()), "query");
    // Bun aborts the request's signal when the client disconnects: the store then drops the read
    // while it waits in a queue, or stops it at its next page or resampling step, on a turn of
    // its own (a thousand hang-ups at once must not hold the thread).
    const query = { ...(defined(rest) as BarQuery), signal: c.var.turns.defer(c.req.raw.signal) };
    const store = c.var.store;
    // A worker store's readers write the answer's bytes themselves (src/domain/bar-text.ts).
    const text = barTextOf(store);
    if (text !== null && format !== "parquet" && format !== "arrow") {
      if (format !== "json") return streamBarText(c, text.iterate(symbol, query, format), format);
      const bounded = (query.limit ?? Infinity) > JSON_WHOLE_ROWS ? { ...query, limit: JSON_WHOLE_ROWS + 1 } : query;
      const whole = await text.json(symbol, bounded, JSON_WHOLE_ROWS);
      return whole !== null ? barsJsonResponse(whole) : streamBarText(c, text.iterate(symbol, query, "json"), "json");
    }
    if (format === "json" && (query.limit ?? Infinity) > JSON_WHOLE_ROWS) {
      // Read one row more than a whole answer may hold: if it comes back, stream instead.
      const bars = await store.getBars(symbol, { ...query, limit: JSON_WHOLE_ROWS + 1 });
      if (bars.length <= JSON_WHOLE_ROWS) return barsJsonResponse(bars);
      return streamBars(c, store.iterateBars(symbol, query), "json");
    }
    if (format === "json") return barsJsonResponse(await store.getBars(symbol, query));
    return streamBars(c, store.iterateBars(symbol, query), format);
  });

  app.openapi(
    route({
      method: "post",
      path: "/v1/bars/{symbol}",
      summary: "Upsert bars: a JSON array, a bar file as text/csv (the cache file's header, a TDX export, a Tushare, AKShare, baostock, JoinQuant or RiceQuant file; UTF-8 or GBK), or a Parquet, Arrow or TDX binary file; all or nothing; interval=1d writes the stored daily series",
      request: {
        params: SymbolParam,
        query: SeriesQuery.extend(UploadQuery.shape),
        body: {
          // Not "required": zod-openapi then runs the JSON validator on every body, CSV included.
          // The handler requires one of the two types itself.
          required: false,
          content: {
            "application/json": jsonArrayContent(app, "BarInput", BarInputSchema),
            "text/csv": { schema: z.string().openapi({ example: `${CSV_HEADER}\n2024-01-02T01:31:00.000Z,10.5,10.6,10.4,10.55,1200,12660\n` }) },
            ...BINARY_CONTENT,
          },
        },
      },
      responses: {
        200: { description: "rows written (one per distinct timestamp), and how a text file was read", content: { "application/json": { schema: WrittenSchema } } },
        ...errorResponses(400, 413, 415),
      },
    }),
    async (c) => {
      const { symbol } = c.req.valid("param");
      const { interval, adjusted, ...reading } = c.req.valid("query");
      const store = c.var.store;
      const upload = await readBarUpload(c, { ...defined(reading), timeZone: store.timezone, symbol, ...(interval ? { interval } : {}), adjusted: adjusted === "true" });
      // A text file of dates alone is daily bars: the daily series, without ?interval=1d.
      const series = interval ?? (upload.daily ? "1d" : undefined);
      // An API batch is an operator action: its own audit entry, whatever its size.
      const written = await store.insertBars(symbol, upload.bars, series ? { interval: series, audit: "entry" } : { audit: "entry" });
      return c.json({ written, ...(upload.reading ? { file: upload.reading } : {}) }, 200);
    },
  );

  app.openapi(
    route({
      method: "delete",
      path: "/v1/bars/{symbol}",
      summary: "Delete bars in an inclusive range (all=true, without a range, deletes every bar of the symbol); interval=1d from the stored daily series",
      request: { params: SymbolParam, query: DeleteQuery },
      responses: {
        200: { description: "rows deleted", content: { "application/json": { schema: z.object({ deleted: z.number().int() }) } } },
        ...errorResponses(),
      },
    }),
    async (c) => {
      const { symbol } = c.req.valid("param");
      const { all, interval, ...range } = c.req.valid("query");
      if (range.start === undefined && range.end === undefined && all !== "true") {
        throw new ApiError(422, "a delete needs start, end or both; all=true deletes every bar of the symbol", [{ field: "start", message: "give start, end, or all=true" }], "VALIDATION");
      }
      if (all === "true" && (range.start !== undefined || range.end !== undefined)) {
        throw new ApiError(422, "all=true deletes every bar; it cannot be combined with start or end", [{ field: "all", message: "not with start or end" }], "VALIDATION");
      }
      return c.json({ deleted: await c.var.store.deleteBars(symbol, defined(range), interval ? { interval } : undefined) }, 200);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/bars/{symbol}/completeness",
      summary: "Per trading day: the one-minute bars the sessions call for, those present, and the missing ranges",
      request: { params: SymbolParam, query: RangeQuerySchema },
      responses: {
        200: { description: "the report", content: { "application/json": { schema: CompletenessSchema } } },
        ...errorResponses(),
      },
    }),
    async (c) => {
      const { symbol } = c.req.valid("param");
      return c.json(await c.var.store.completeness(symbol, defined(c.req.valid("query"))), 200);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/bars/{symbol}/latest",
      summary: "The newest bar of a symbol",
      request: { params: SymbolParam },
      responses: {
        200: { description: "the newest bar", content: { "application/json": { schema: BarSchema } } },
        ...errorResponses(404),
      },
    }),
    async (c) => {
      const { symbol } = c.req.valid("param");
      const bar = await c.var.store.latestBar(symbol);
      if (!bar) throw new ApiError(404, `no bars for ${symbol}`);
      return c.json(bar, 200);
    },
  );
}
