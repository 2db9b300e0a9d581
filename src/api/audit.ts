/**
 * /v1/audit: the hash-chained audit log, read and verified (it is written by the store's own
 * mutations, each naming the caller).
 */
import { z } from "@hono/zod-openapi";
import { AuditEntrySchema as DomainAuditEntrySchema } from "../domain/audit.ts";
import type { AuditQuery } from "../domain/store.ts";
import type { Api } from "./context.ts";
import { ApiError, errorResponses } from "./errors.ts";
import { defined, JsonValueSchema, LimitQuery, route, TimestampQuery } from "./schemas.ts";

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
}
