/**
 * /v1/cache: the per-symbol CSV session cache. A server started without a cache answers 501 here.
 */
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { BarSchema } from "../domain/bar.ts";
import type { CacheService } from "../domain/cache.ts";
import { BINARY_CONTENT } from "./bar-files.ts";
import { readBarUpload } from "./body.ts";
import type { Api, ApiEnv } from "./context.ts";
import { ApiError, errorResponses } from "./errors.ts";
import { jsonArrayContent } from "./json-array.ts";
import { BarInputSchema, defined, FileReadingSchema, UploadQuery, RangeQuerySchema, route, SymbolParam } from "./schemas.ts";
import { barsJsonResponse } from "./stream.ts";

const CacheEntrySchema = z
  .object({
    symbol: z.string(),
    last_updated: z.number().int(),
    row_count: z.number().int(),
    file_path: z.string(),
    checksum: z.string(),
    size_bytes: z.number().int(),
    writes_since_compaction: z.number().int(),
    last_compacted: z.number().int().nullable(),
    first_timestamp: z.number().int().nullable(),
    last_timestamp: z.number().int().nullable(),
    covered_from: z.number().int().nullable(),
    market_version: z.number().int(),
    file_version: z.number().int(),
  })
  .openapi("CacheEntry");

function cacheOf(c: Context<ApiEnv>): CacheService {
  const cache = c.var.cache;
  if (!cache) throw new ApiError(501, "this server runs without a session cache");
  return cache;
}

export function cacheRoutes(app: Api): void {
  app.openapi(
    route({
      method: "get",
      path: "/v1/cache",
      summary: "Every cached symbol's file metadata",
      responses: { 200: { description: "the entries", content: { "application/json": { schema: z.array(CacheEntrySchema) } } }, ...errorResponses(501) },
    }),
    async (c) => c.json(await cacheOf(c).list(), 200),
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/cache/{symbol}",
      summary: "Bars read through the cache (served from the file where it covers the range)",
      request: { params: SymbolParam, query: RangeQuerySchema },
      responses: { 200: { description: "the bars", content: { "application/json": { schema: z.array(BarSchema) } } }, ...errorResponses(501) },
    }),
    async (c) => {
      const { symbol } = c.req.valid("param");
      const bars = await cacheOf(c).getBars(symbol, defined(c.req.valid("query")));
      return barsJsonResponse(bars);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/v1/cache/{symbol}",
      summary: "storeBars: append to the symbol's cache file (and the database, with write-through)",
      request: {
        params: SymbolParam,
        query: UploadQuery,
        body: {
          // Not "required": zod-openapi then runs the JSON validator on every body, CSV included.
          // The handler requires one of the two types itself.
          required: false,
          content: { "application/json": jsonArrayContent(app, "BarInput", BarInputSchema), "text/csv": { schema: z.string() }, ...BINARY_CONTENT },
        },
      },
      responses: {
        200: { description: "written, and whether this write compacted the file", content: { "application/json": { schema: z.object({ written: z.number().int(), compacted: z.boolean(), file: FileReadingSchema.optional() }) } } },
        ...errorResponses(400, 413, 415, 501),
      },
    }),
    async (c) => {
      const cache = cacheOf(c);
      const { symbol } = c.req.valid("param");
      const { adjusted, ...reading } = c.req.valid("query");
      const upload = await readBarUpload(c, { ...defined(reading), timeZone: c.var.store.timezone, symbol, adjusted: adjusted === "true" });
      if (upload.daily) throw new ApiError(422, "every row is a date without a time: daily bars, and the session cache holds minutes (POST them to /v1/bars)", [{ field: "timestamp", message: "a date alone" }], "VALIDATION");
      const stored = await cache.storeBars(symbol, upload.bars, { actor: c.var.actor });
      return c.json({ ...stored, ...(upload.reading ? { file: upload.reading } : {}) }, 200);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/v1/cache/{symbol}/compact",
      summary: "Compact the symbol's cache file now",
      request: { params: SymbolParam },
      responses: {
        200: {
          description: "rows and bytes before and after",
          content: { "application/json": { schema: z.object({ rowsBefore: z.number(), rowsAfter: z.number(), bytesBefore: z.number(), bytesAfter: z.number() }) } },
        },
        ...errorResponses(404, 501),
      },
    }),
    async (c) => {
      const cache = cacheOf(c);
      const { symbol } = c.req.valid("param");
      if (!(await cache.stats(symbol))) throw new ApiError(404, `no cache file for ${symbol}`);
      return c.json(await cache.compact(symbol, { actor: c.var.actor }), 200);
    },
  );
}
