/**
 * /v1/instruments: what each symbol is (exchange, board, lot, tick, price limit, listing) and
 * its status history. PUT upserts a JSON array of instruments, all or nothing, one audit entry;
 * the store fills in what the board implies (src/domain/instrument.ts). PUT .../status upserts
 * a symbol's status rows on date.
 */
import { z } from "@hono/zod-openapi";
import { BOARDS, INSTRUMENT_STATUSES, type InstrumentInput, type InstrumentStatusRow } from "../domain/instrument.ts";
import type { Api } from "./context.ts";
import { ApiError, errorResponses } from "./errors.ts";
import { jsonArrayContent, readJsonArray } from "./json-array.ts";
import { defined, route, SymbolParam } from "./schemas.ts";

const DateText = z.string().max(10).openapi({ example: "2001-08-27" });

export const InstrumentSchema = z
  .object({
    symbol: z.string(),
    exchange: z.string(),
    calendar: z.string().nullable(),
    name: z.string().nullable(),
    board: z.enum(BOARDS).nullable(),
    lotSize: z.number().nullable(),
    lotStep: z.number().nullable(),
    tickSize: z.number().nullable(),
    priceLimitPct: z.number().nullable(),
    listedDate: z.string().nullable(),
    delistedDate: z.string().nullable(),
  })
  .openapi("Instrument");

const StatusRowSchema = z.object({ date: z.string(), status: z.enum(INSTRUMENT_STATUSES) });
const StatusInputSchema = z.strictObject({ date: DateText, status: z.string().max(16).openapi({ example: "ST" }) });

/** One instrument as PUT takes it: the symbol, and whatever else is known. */
const InstrumentInputSchema = z.strictObject({
  symbol: z.string().max(64).openapi({ example: "600519.SH" }),
  exchange: z.string().max(16).nullable().optional(),
  calendar: z.string().max(32).nullable().optional(),
  name: z.string().max(200).nullable().optional(),
  board: z.string().max(16).nullable().optional(),
  lotSize: z.number().nullable().optional(),
  lotStep: z.number().nullable().optional(),
  tickSize: z.number().nullable().optional(),
  priceLimitPct: z.number().nullable().optional(),
  listedDate: DateText.nullable().optional(),
  delistedDate: DateText.nullable().optional(),
});

const ListQuery = z.strictObject({
  exchange: z.string().max(16).optional().openapi({ example: "SH" }),
  board: z.enum(BOARDS).optional(),
  status: z.enum(INSTRUMENT_STATUSES).optional(),
  asOf: DateText.optional().openapi({ description: "the date the status filter reads (YYYY-MM-DD or YYYYMMDD); today when left out" }),
});

export function instrumentRoutes(app: Api): void {
  app.openapi(
    route({
      method: "get",
      path: "/v1/instruments",
      summary: "The instruments, by symbol; filters: exchange, board, and status in force at asOf",
      request: { query: ListQuery },
      responses: { 200: { description: "the instruments", content: { "application/json": { schema: z.array(InstrumentSchema) } } }, ...errorResponses() },
    }),
    async (c) => c.json(await c.var.store.instruments.list(defined(c.req.valid("query"))), 200),
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/instruments/{symbol}",
      summary: "One instrument, with its status history by effective date",
      request: { params: SymbolParam },
      responses: {
        200: { description: "the instrument", content: { "application/json": { schema: InstrumentSchema.extend({ statusHistory: z.array(StatusRowSchema) }) } } },
        ...errorResponses(404),
      },
    }),
    async (c) => {
      const { symbol } = c.req.valid("param");
      const store = c.var.store;
      const instrument = await store.instruments.get(symbol);
      if (!instrument) throw new ApiError(404, `no instrument ${symbol}`);
      return c.json({ ...instrument, statusHistory: await store.instruments.statusHistory(instrument.symbol) }, 200);
    },
  );

  app.openapi(
    route({
      method: "put",
      path: "/v1/instruments",
      summary: "Upsert instruments (a JSON array; a field left out takes the board's default); all or nothing, one audit entry",
      request: { body: { required: true, content: { "application/json": jsonArrayContent(app, "InstrumentInput", InstrumentInputSchema) } } },
      responses: { 200: { description: "written", content: { "application/json": { schema: z.object({ written: z.number().int() }) } } }, ...errorResponses(400, 413, 415) },
    }),
    async (c) => {
      const rows = (await readJsonArray(c, InstrumentInputSchema)) as InstrumentInput[];
      return c.json({ written: (await c.var.store.instruments.put(rows)).length }, 200);
    },
  );

  app.openapi(
    route({
      method: "put",
      path: "/v1/instruments/{symbol}/status",
      summary: "Upsert a stored instrument's status rows on date (a JSON array of { date, status }); one audit entry; the whole history back",
      request: { params: SymbolParam, body: { required: true, content: { "application/json": jsonArrayContent(app, "InstrumentStatusInput", StatusInputSchema) } } },
      responses: { 200: { description: "the status history by date", content: { "application/json": { schema: z.array(StatusRowSchema) } } }, ...errorResponses(400, 404, 413, 415) },
    }),
    async (c) => {
      const { symbol } = c.req.valid("param");
      const rows = (await readJsonArray(c, StatusInputSchema)) as InstrumentStatusRow[];
      return c.json(await c.var.store.instruments.setStatus(symbol, rows), 200);
    },
  );
}
