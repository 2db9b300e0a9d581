/**
 * /v1/maintenance: checkpoint, optimize, vacuum and backup on request; stats and integrity.
 * A backup is written only into the server's backup folder, under a plain file name the caller
 * chooses: a request never names a path on the server.
 */
import { z } from "@hono/zod-openapi";
import { join } from "node:path";
import { CHECKPOINT_MODES } from "../domain/maintenance.ts";
import type { Api } from "./context.ts";
import { route } from "./schemas.ts";
import { ConflictError } from "../domain/errors.ts";
import { ApiError, errorResponses } from "./errors.ts";

const Action = z.object({
  action: z.enum(["checkpoint", "optimize", "vacuum", "backup"]).openapi({ param: { name: "action", in: "path" }, example: "checkpoint" }),
});

const ActionQuery = z.strictObject({
  mode: z.enum(CHECKPOINT_MODES).optional().openapi({ description: "checkpoint only; default PASSIVE" }),
  incremental: z.enum(["true", "false"]).optional().openapi({ description: "vacuum only; default false (a full VACUUM)" }),
  name: z
    .string()
    .regex(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/, "a plain file name: letters, digits, . _ -, not starting with a dot")
    .optional()
    .openapi({ description: "backup only: the file name inside the backup folder; default a timestamped name" }),
});

const BOOLEAN_QUERY = z.strictObject({ quick: z.enum(["true", "false"]).optional() });

export function maintenanceRoutes(app: Api, backupDir: () => Promise<string | null>): void {
  app.openapi(
    route({
      method: "post",
      path: "/v1/maintenance/{action}",
      summary: "Run checkpoint (mode), optimize, vacuum (incremental) or backup (name) now",
      request: { params: Action, query: ActionQuery },
      responses: { 200: { description: "what the run did", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } }, ...errorResponses(409, 501) },
    }),
    async (c) => {
      const { action } = c.req.valid("param");
      const { mode, incremental, name } = c.req.valid("query");
      const misplaced = Object.entries({ mode: action === "checkpoint", incremental: action === "vacuum", name: action === "backup" })
        .filter(([key, allowed]) => !allowed && c.req.valid("query")[key as "mode"] !== undefined)
        .map(([key]) => ({ field: key, message: `not an option of ${action}` }));
      if (misplaced.length > 0) throw new ApiError(422, `${misplaced.map((issue) => issue.field).join(", ")}: not an option of ${action}`, misplaced, "VALIDATION");
      const maintenance = c.var.store.maintenance;
      switch (action) {
        case "checkpoint":
          return c.json({ ...(await maintenance.checkpoint(mode)) }, 200);
        case "optimize":
          return c.json({ ...(await maintenance.optimize()) }, 200);
        case "vacuum":
          return c.json({ ...(await maintenance.vacuum({ incremental: incremental === "true" })) }, 200);
        case "backup": {
          const dir = await backupDir();
          if (!dir) throw new ApiError(501, "this server has no backup folder (an in-memory database, or backups switched off)");
          const file = name ?? `backup-${new Date().toISOString().replace(/[:.]/g, "-")}.db`;
          const result = await maintenance.backup(join(dir, file)).catch((error: unknown) => {
            // The store's message names the full path; the folder is the server's business.
            if (error instanceof ConflictError) throw new ConflictError(`a backup named ${file} already exists`);
            throw error;
          });
          // The folder is the server's business; the caller learns the name it chose.
          return c.json({ name: file, bytes: result.bytes, durationMs: result.durationMs }, 200);
        }
      }
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/maintenance/stats",
      summary: "File sizes, pages, journal mode and row counts",
      responses: { 200: { description: "the stats", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } }, ...errorResponses() },
    }),
    async (c) => c.json({ ...(await c.var.store.maintenance.stats()) }, 200),
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/maintenance/integrity",
      summary: "PRAGMA integrity_check (quick=true: quick_check)",
      request: { query: BOOLEAN_QUERY },
      responses: { 200: { description: "the result", content: { "application/json": { schema: z.object({ ok: z.boolean(), problems: z.array(z.string()), durationMs: z.number() }) } } }, ...errorResponses() },
    }),
    async (c) => c.json(await c.var.store.maintenance.integrityCheck({ quick: c.req.valid("query").quick === "true" }), 200),
  );
}
