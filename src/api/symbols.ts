/**
 * /health (no token needed: it says only that the server is up, where its data is, and the
 * settings the database stores: zone, bar stamping, calendar) and /v1/symbols, the store's overview.
 */
import { z } from "@hono/zod-openapi";
import type { Api } from "./context.ts";
import { route } from "./schemas.ts";
import { errorResponses } from "./errors.ts";

const Health = z.object({
  status: z.literal("ok"),
  version: z.string(),
  backend: z.string(),
  timezone: z.string().describe("the IANA zone naive timestamps are read in and day buckets follow"),
  barTimestamp: z.enum(["start", "end"]).describe("where stored bars are stamped within their interval"),
  calendar: z.string().nullable().describe("the database's default calendar, or null"),
  db: z.object({ path: z.string(), journalMode: z.string(), sizeBytes: z.number().int() }),
});

/** What GET /health answers (the HTTP client's type too). */
export type Health = z.infer<typeof Health>;

const SeriesOverview = z.object({ count: z.number().int(), start: z.number().int(), end: z.number().int() });

/**
 * count, start and end describe the bars as written (market_data), as before; `daily` is there
 * when the symbol has stored daily bars. A symbol with daily bars only: count 0, start/end null.
 */
const Overview = z.array(
  z.object({
    symbol: z.string(),
    count: z.number().int().describe("bars as written (minutes): 0 when the symbol has stored daily bars only"),
    start: z.number().int().nullable().describe("epoch ms of the first bar as written; null when there is none"),
    end: z.number().int().nullable().describe("epoch ms of the last bar as written; null when there is none"),
    daily: SeriesOverview.optional().describe("the stored daily bars (imported with interval 1d), when the symbol has any"),
    expected: z.number().int().optional().describe("with completeness=true, for a symbol with a calendar: the minutes its sessions call for from its first bar's day to its last's"),
    missing: z.number().int().optional().describe("with completeness=true: how many of those are not stored"),
  }),
);

const OverviewQuery = z.strictObject({
  completeness: z
    .enum(["true", "false"])
    .optional()
    .openapi({ description: "true adds expected and missing minutes per symbol; it reads every stored minute (the cost of completeness for every symbol)" }),
});

export function symbolRoutes(app: Api, version: string): void {
  app.openapi(
    route({
      method: "get",
      path: "/health",
      security: [],
      summary: "Liveness, version, backend and the database's place and size",
      responses: { 200: { description: "up", content: { "application/json": { schema: Health } } }, ...errorResponses() },
    }),
    async (c) => {
      const store = c.var.store;
      const info = await store.maintenance.info();
      return c.json(
        {
          status: "ok" as const,
          version,
          backend: store.backend,
          timezone: store.timezone,
          barTimestamp: store.barTimestamp,
          calendar: store.calendar,
          db: { path: info.path, journalMode: info.journalMode, sizeBytes: info.fileBytes + info.walBytes },
        },
        200,
      );
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/symbols",
      summary: "Every symbol with its bar count and first and last timestamps, and its stored daily bars' when it has any",
      request: { query: OverviewQuery },
      responses: { 200: { description: "the overview", content: { "application/json": { schema: Overview } } }, ...errorResponses() },
    }),
    async (c) => c.json(await c.var.store.overview({ completeness: c.req.valid("query").completeness === "true" }), 200),
  );
}
