/**
 * /v1/adjustments/{symbol}: a symbol's adjustment factors (as of an instant), its corporate
 * actions, and a write of either: factor rows as given, or actions from which the store computes
 * the factors with the previous closes it holds. Reads adjust with them through /v1/bars
 * (`?adjust=qfq|hfq&asOf=&adjustVolume=`).
 */
import { z } from "@hono/zod-openapi";
import type { Api } from "./context.ts";
import { exDateWarnings } from "../domain/adjustment-writes.ts";
import { ApiError, errorResponses } from "./errors.ts";
import { defined, InstantQuery, route, SymbolParam } from "./schemas.ts";

const FactorSchema = z
  .object({
    date: z.string().openapi({ example: "2024-07-11" }),
    factor: z.number(),
    knownAt: z.number().int().openapi({ description: "when the factor became known, epoch ms UTC" }),
    source: z.string(),
  })
  .openapi("AdjustmentFactor");

const ActionSchema = z
  .object({
    date: z.string(),
    cash: z.number().optional(),
    bonus: z.number().optional(),
    rights: z.number().optional(),
    rightsPrice: z.number().optional(),
    knownAt: z.number().int(),
    source: z.string(),
  })
  .openapi("CorporateAction");

/** Timestamps in a body: epoch ms or text (a date, ISO-8601); the store reads them. */
const TimestampValue = z.union([z.number(), z.string().max(64)]);

const FactorRowInput = z.strictObject({
  date: z.string().max(10).openapi({ description: "YYYY-MM-DD or YYYYMMDD" }),
  factor: z.number(),
  knownAt: TimestampValue.optional().openapi({ description: "default: the date's local midnight" }),
  source: z.string().max(64).optional().openapi({ description: 'default "manual"' }),
});

const ActionInput = z.strictObject({
  date: z.string().max(10),
  cash: z.number().optional().openapi({ description: "cash dividend per share, before tax" }),
  bonus: z.number().optional().openapi({ description: "bonus plus transferred shares per share" }),
  rights: z.number().optional().openapi({ description: "rights shares per share" }),
  rightsPrice: z.number().optional().openapi({ description: "the price of a rights share" }),
});

const MAX_ROWS = 100_000;

/** One kind of write per request: each is one transaction in the store. */
const PutBody = z
  .strictObject({
    factors: z.array(FactorRowInput).max(MAX_ROWS).optional(),
    actions: z.array(ActionInput).max(MAX_ROWS).optional(),
    knownAt: TimestampValue.optional().openapi({ description: "with actions: when they became known (default each ex-date's local midnight)" }),
    source: z.string().max(64).optional().openapi({ description: 'with actions: the rows\' source (default "actions")' }),
    priceDecimals: z.number().int().optional().openapi({ description: "with actions: decimals of the reference price (default 2, 3 for funds)" }),
  })
  .openapi({ description: "{ factors: [...] } or { actions: [...], knownAt?, source?, priceDecimals? }" });

const PutAnswer = z.object({
  written: z.number().int().optional().openapi({ description: "with factors: the rows written (identical rows already stored are skipped)" }),
  factors: z.array(FactorSchema).optional().openapi({ description: "with actions: the factors computed from every action in force" }),
  warnings: z.array(z.string()).openapi({ description: "each date the symbol's calendar says is closed (stored as given): usually a typo or an announcement date" }),
});

export function adjustmentRoutes(app: Api): void {
  app.openapi(
    route({
      method: "get",
      path: "/v1/adjustments/{symbol}",
      summary: "A symbol's adjustment factors ascending by (date, knownAt); asOf keeps those known by then",
      request: { params: SymbolParam, query: z.strictObject({ asOf: InstantQuery.optional() }) },
      responses: { 200: { description: "the factors", content: { "application/json": { schema: z.array(FactorSchema) } } }, ...errorResponses() },
    }),
    async (c) => {
      const { symbol } = c.req.valid("param");
      return c.json(await c.var.store.adjustments.list(symbol, defined(c.req.valid("query"))), 200);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/adjustments/{symbol}/actions",
      summary: "A symbol's corporate actions ascending by (date, knownAt)",
      request: { params: SymbolParam },
      responses: { 200: { description: "the actions", content: { "application/json": { schema: z.array(ActionSchema) } } }, ...errorResponses() },
    }),
    async (c) => c.json(await c.var.store.adjustments.listActions(c.req.valid("param").symbol), 200),
  );

  app.openapi(
    route({
      method: "put",
      path: "/v1/adjustments/{symbol}",
      summary: "Add factor rows ({ factors }) or corporate actions ({ actions }, factors computed from the stored closes); a correction is a row with a later knownAt",
      request: { params: SymbolParam, body: { required: true, content: { "application/json": { schema: PutBody } } } },
      responses: { 200: { description: "what was written", content: { "application/json": { schema: PutAnswer } } }, ...errorResponses(400, 413, 415) },
    }),
    async (c) => {
      const { symbol } = c.req.valid("param");
      const { factors, actions, ...options } = c.req.valid("json");
      const store = c.var.store;
      if ((factors === undefined) === (actions === undefined)) {
        throw new ApiError(422, "give factors or actions, one kind per request (each is one transaction)", [{ field: factors ? "actions" : "factors", message: "exactly one of factors and actions" }], "VALIDATION");
      }
      if (factors) {
        if (Object.keys(defined(options)).length > 0) {
          throw new ApiError(422, "knownAt, source and priceDecimals go with actions; factor rows carry their own", [{ field: Object.keys(defined(options))[0], message: "only with actions" }], "VALIDATION");
        }
        const written = await store.adjustments.insert(symbol, factors);
        return c.json({ written, warnings: await exDateWarnings(store.calendars, symbol, factors.map((row) => row.date)) }, 200);
      }
      const computed = await store.adjustments.insertActions(symbol, actions!, defined(options));
      return c.json({ factors: computed, warnings: await exDateWarnings(store.calendars, symbol, actions!.map((action) => action.date)) }, 200);
    },
  );
}
