/**
 * /v1/cross-section: each symbol's latest bar at or before one instant (Store.getCrossSection),
 * for every symbol stored or a list: comma-separated in GET's query, or a JSON array in POST's
 * body for a list a request line cannot hold (Bun answers 431 past ~16 KB, about 1,400 A-share
 * codes). POST here reads and writes nothing, so it takes the read scope (security.ts).
 */
import { z } from "@hono/zod-openapi";
import { BarSchema } from "../domain/bar.ts";
import { CROSS_SECTION_INTERVALS, MAX_CROSS_SECTION_SYMBOLS, type CrossSectionQuery } from "../domain/cross-section.ts";
import type { Api } from "./context.ts";
import { errorResponses } from "./errors.ts";
import { ADJUST_QUERY, defined, route, TimestampQuery } from "./schemas.ts";
import { ADJUST_MODES } from "../domain/adjusted-bars.ts";

/**
 * The query string: `at` required; `symbols` comma-separated (a symbol with a comma in it cannot
 * be named this way). The store checks each symbol, repeats and the count, and answers 422 naming
 * `symbols[i]`. A longer list goes in POST's body.
 */
const CrossSectionQuerySchema = z.strictObject({
  at: TimestampQuery.openapi({
    description: "the instant: epoch ms, ISO-8601 (naive: the store's zone), or a date alone, which is the end of that day in the store's zone",
  }),
  symbols: z
    .string()
    .optional()
    .openapi({ description: `comma-separated symbols (at most ${MAX_CROSS_SECTION_SYMBOLS}); omitted, every symbol stored`, example: "600519.SH,000001.SZ" }),
  interval: z.enum(CROSS_SECTION_INTERVALS).optional().openapi({
    description: "1m (default): the bars as written; 1d: the stored daily series, only days that have ended by at",
  }),
  ...ADJUST_QUERY,
});

/** The same query as a JSON body: a list of any length up to the store's bound, commas and all. */
const CrossSectionBody = z.strictObject({
  at: z.union([z.number(), z.string().max(40)]).openapi({ description: "epoch ms, ISO-8601 (naive: the store's zone), or a date alone: the end of that day" }),
  symbols: z.array(z.string()).max(MAX_CROSS_SECTION_SYMBOLS).optional().openapi({ description: "omitted: every symbol stored" }),
  interval: z.enum(CROSS_SECTION_INTERVALS).optional(),
  adjust: z.enum(ADJUST_MODES).optional(),
  asOf: z.union([z.number(), z.string().max(40)]).optional(),
  adjustVolume: z.boolean().optional(),
});

const CrossSectionSchema = z.object({
  at: z.number().int().describe("the instant read, epoch ms (a date alone: its day's last ms)"),
  interval: z.enum(CROSS_SECTION_INTERVALS),
  rows: z.array(z.object({ symbol: z.string(), bar: BarSchema })).describe("per symbol with a bar at or before at, its latest, sorted by symbol (code point order)"),
  missing: z.array(z.string()).describe("the symbols named that have no bar at or before at, sorted; empty when symbols is omitted"),
});

export function crossSectionRoutes(app: Api): void {
  app.openapi(
    route({
      method: "get",
      path: "/v1/cross-section",
      summary: "Each symbol's latest bar at or before an instant (every symbol, or the ones named), with the named symbols that have none",
      request: { query: CrossSectionQuerySchema },
      responses: {
        200: { description: "the cross-section", content: { "application/json": { schema: CrossSectionSchema } } },
        ...errorResponses(),
      },
    }),
    async (c) => {
      const { at, symbols, interval, ...adjustment } = c.req.valid("query");
      const query: CrossSectionQuery = { at, ...defined(adjustment), signal: c.req.raw.signal };
      // An empty list is the store's to refuse ("name at least one"), not an empty symbol.
      if (symbols !== undefined) query.symbols = symbols === "" ? [] : symbols.split(",");
      if (interval !== undefined) query.interval = interval;
      return c.json(await c.var.store.getCrossSection(query), 200);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/v1/cross-section",
      summary: "The same cross-section with the query as a JSON body { at, symbols?, interval?, adjust?, asOf?, adjustVolume? }: for a list of symbols too long for a URL (a read: the read scope)",
      request: { body: { required: true, content: { "application/json": { schema: CrossSectionBody } } } },
      responses: {
        200: { description: "the cross-section", content: { "application/json": { schema: CrossSectionSchema } } },
        ...errorResponses(400, 413, 415),
      },
    }),
    async (c) => c.json(await c.var.store.getCrossSection({ ...c.req.valid("json"), signal: c.req.raw.signal }), 200),
  );
}
