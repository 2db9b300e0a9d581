/**
 * /health (no token, and never the store: it answers from the server's own thread whatever the
 * store is doing, and says only that the server is up and its version), /ready (no token: the
 * store answers within READY_TIMEOUT_MS, else 503), /v1/info (the token: the backend, the
 * settings the database stores, where its data is and how big) and /v1/symbols, the overview.
 */
import { z } from "@hono/zod-openapi";
import type { Api } from "./context.ts";
import { route } from "./schemas.ts";
import { errorResponses } from "./errors.ts";
import { StorageError } from "../domain/errors.ts";

const Health = z.object({ status: z.literal("ok"), version: z.string() });

const Ready = z.object({ status: z.literal("ready") });

/** How long /ready waits for the store before it answers 503. */
export const READY_TIMEOUT_MS = 2_000;

const Info = z.object({
  version: z.string(),
  backend: z.string(),
  timezone: z.string().describe("the IANA zone naive timestamps are read in and day buckets follow"),
  barTimestamp: z.enum(["start", "end"]).describe("where stored bars are stamped within their interval"),
  calendar: z.string().nullable().describe("the database's default calendar, or null"),
  normalizeSymbols: z.boolean().describe("whether every symbol is normalized (sh600519 -> 600519.SH) on write and read"),
  db: z.object({ path: z.string(), journalMode: z.string(), sizeBytes: z.number().int() }),
});

/** What GET /health, /ready and /v1/info answer (the HTTP client's types too). */
export type Health = z.infer<typeof Health>;
export type Ready = z.infer<typeof Ready>;
export type Info = z.infer<typeof Info>;

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
      summary: "Liveness: the server is up (never touches the store)",
      responses: { 200: { description: "up", content: { "application/json": { schema: Health } } }, ...errorResponses() },
    }),
    (c) => c.json({ status: "ok" as const, version }, 200),
  );

  app.openapi(
    route({
      method: "get",
      path: "/ready",
      security: [],
      summary: "Readiness: the store answers within 2 s (503 otherwise)",
      responses: { 200: { description: "the store answers", content: { "application/json": { schema: Ready } } }, ...errorResponses(503) },
    }),
    async (c) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StorageError("UNAVAILABLE", `the store did not answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      });
      try {
        await Promise.race([c.var.store.maintenance.info(), late]);
      } finally {
        clearTimeout(timer);
      }
      return c.json({ status: "ready" as const }, 200);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/info",
      summary: "The backend, the settings the database stores, and the database's place and size",
      responses: { 200: { description: "the store", content: { "application/json": { schema: Info } } }, ...errorResponses() },
    }),
    async (c) => {
      const store = c.var.store;
      const info = await store.maintenance.info();
      return c.json(
        {
          version,
          backend: store.backend,
          timezone: store.timezone,
          barTimestamp: store.barTimestamp,
          calendar: store.calendar,
          normalizeSymbols: store.normalizeSymbols,
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
