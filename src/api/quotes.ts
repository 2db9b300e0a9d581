/**
 * /v1/quotes/{symbol}: level-1 snapshots, read and written as JSON.
 */
import { z } from "@hono/zod-openapi";
import { QuoteSchema, type QuoteInput } from "../domain/quote.ts";
import type { RangeQuery } from "../domain/query.ts";
import type { Api } from "./context.ts";
import { JSON_TYPE } from "./body.ts";
import { ApiError, errorResponses } from "./errors.ts";
import { jsonArrayContent, readJsonArray } from "./json-array.ts";
import { defined, ListQuerySchema, route, SymbolParam } from "./schemas.ts";

const QuoteInputSchema = z.strictObject({
  timestamp: z.union([z.number(), z.string().max(64)]),
  bid: z.number().nullable().optional(),
  bid_size: z.number().nullable().optional(),
  ask: z.number().nullable().optional(),
  ask_size: z.number().nullable().optional(),
  last: z.number().nullable().optional(),
  volume: z.number().nullable().optional(),
});

export function quoteRoutes(app: Api): void {
  app.openapi(
    route({
      method: "get",
      path: "/v1/quotes/{symbol}",
      summary: "Quotes in an inclusive range",
      request: { params: SymbolParam, query: ListQuerySchema },
      responses: {
        200: { description: "the quotes", content: { "application/json": { schema: z.array(QuoteSchema) } } },
        ...errorResponses(),
      },
    }),
    async (c) => {
      const { symbol } = c.req.valid("param");
      return c.json(await c.var.store.getQuotes(symbol, defined(c.req.valid("query")) as RangeQuery), 200);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/v1/quotes/{symbol}",
      summary: "Upsert quotes (a JSON array); all or nothing",
      request: {
        params: SymbolParam,
        body: { required: true, content: { "application/json": jsonArrayContent(app, "QuoteInput", QuoteInputSchema) } },
      },
      responses: {
        200: { description: "rows written", content: { "application/json": { schema: z.object({ written: z.number().int() }) } } },
        ...errorResponses(400, 413, 415),
      },
    }),
    async (c) => {
      const { symbol } = c.req.valid("param");
      if (!JSON_TYPE.test(c.req.header("content-type") ?? "")) throw new ApiError(415, "quotes are uploaded as application/json (an array of quotes)");
      const quotes = (await readJsonArray(c, QuoteInputSchema)) as QuoteInput[];
      return c.json({ written: await c.var.store.insertQuotes(symbol, quotes) }, 200);
    },
  );
}
