/**
 * /v1/audit: the hash-chained audit log, read and verified (it is written by the store's own
 * mutations, each naming the caller); the rollups of live appends re-digested, and closed on
 * request (an admin's: src/api/security.ts).
 */
import { z } from "@hono/zod-openapi";
import { AuditEntrySchema as DomainAuditEntrySchema } from "../domain/audit.ts";
import type { AuditQuery } from "../domain/store.ts";
import type { Api } from "./context.ts";
import { ApiError, errorResponses } from "./errors.ts";
import { defined, JsonValueSchema, LimitQuery, route, TimestampQuery } from "./schemas.ts";
import { MAX_SYMBOL_LENGTH, symbolProblem } from "../domain/symbol.ts";

const AuditEntrySchema = DomainAuditEntrySchema.extend({ details: JsonValueSchema }).openapi("AuditEntry");

const AuditQuerySchema = z.strictObject({
  since: TimestampQuery.optional(),
  until: TimestampQuery.optional(),
  actor: z.string().min(1).max(128).optional(),
  action: z.string().min(1).max(128).optional(),
  limit: LimitQuery.optional(),
});

const VerifyQuery = z.strictObject({
  headId: z.string().regex(/^[1-9]\d{0,14}$/, "a positive whole number").transform(Number).optional(),
  headHash: z.string().regex(/^[0-9a-f]{64}$/, "lowercase hex SHA-256").optional(),
});

const Verification = z.object({ ok: z.boolean(), checked: z.number().int(), firstBadId: z.number().int().optional() });

const Digest = z.object({ stored: z.number().int(), sha256: z.string() });
const RollupVerification = z
  .object({
    ok: z.boolean().describe("no mismatch that the log does not explain"),
    checked: z.number().int().describe("rollups re-digested"),
    pending: z.number().int().describe("symbols whose rollup is still open"),
    mismatches: z.array(
      z.object({
        id: z.number().int(),
        symbol: z.string(),
        start: z.number().int(),
        end: z.number().int(),
        recorded: Digest,
        found: Digest,
        changedBy: z.union([z.number().int(), z.literal("pending"), z.null()]).describe("the later entry or the open rollup that changed the bars; null: nothing on the record"),
      }),
    ),
  })
  .openapi("RollupVerification");

const RollUpQuery = z.strictObject({
  symbol: z
    .string()
    .superRefine((value, ctx) => {
      const problem = symbolProblem(value);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional()
    .openapi({ description: `only this symbol's rollup (1 to ${MAX_SYMBOL_LENGTH} characters); omitted, every symbol's`, example: "600519.SH" }),
  due: z.enum(["true", "false"]).optional().openapi({ description: "true: only rollups open for the store's auditRollupMs or longer" }),
});

export function auditRoutes(app: Api): void {
  app.openapi(
    route({
      method: "get",
      path: "/v1/audit",
      summary: "Audit entries in order, filtered by time, actor and action",
      request: { query: AuditQuerySchema },
      responses: { 200: { description: "the entries", content: { "application/json": { schema: z.array(AuditEntrySchema) } } }, ...errorResponses() },
    }),
    async (c) => c.json(await c.var.store.audit.query(defined(c.req.valid("query")) as AuditQuery), 200),
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/audit/verify",
      summary: "Recompute the hash chain; with headId and headHash (an earlier head) a truncation is caught too",
      request: { query: VerifyQuery },
      responses: { 200: { description: "the verification", content: { "application/json": { schema: Verification } } }, ...errorResponses() },
    }),
    async (c) => {
      const { headId, headHash } = c.req.valid("query");
      if ((headId === undefined) !== (headHash === undefined)) {
        throw new ApiError(422, "headId and headHash go together", [{ field: headId === undefined ? "headId" : "headHash", message: "required with the other" }]);
      }
      const head = headId === undefined ? undefined : { id: headId, hash: headHash! };
      return c.json(await c.var.store.audit.verify(head ? { head } : {}), 200);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/audit/rollups/verify",
      summary: "Re-digest the bars every rollup of live appends recorded; count the rollups still open",
      responses: { 200: { description: "the verification", content: { "application/json": { schema: RollupVerification } } }, ...errorResponses() },
    }),
    async (c) => c.json(await c.var.store.audit.verifyRollups(), 200),
  );

  app.openapi(
    route({
      method: "post",
      path: "/v1/audit/rollups/close",
      summary: "Close the open rollups of live appends (every symbol's, or one's; due: only those past the interval) into entries now (admin)",
      request: { query: RollUpQuery },
      responses: { 200: { description: "how many entries were written", content: { "application/json": { schema: z.object({ closed: z.number().int() }) } } }, ...errorResponses() },
    }),
    async (c) => {
      const { symbol, due } = c.req.valid("query");
      const closed = await c.var.store.audit.rollUp({ ...(symbol === undefined ? {} : { symbol }), ...(due === "true" ? { due: true } : {}) });
      return c.json({ closed }, 200);
    },
  );
}
