/**
 * /v1/maintenance: checkpoint, optimize, vacuum and backup on request; stats and integrity; the
 * backups listed and removed. A backup is written only into the server's backup folder, under a
 * plain file name the caller chooses: a request never names a path on the server. The folder
 * has a count and a size cap: a backup that would pass either is refused (409), never made by
 * deleting an old one, so no request can fill the disk and none removes a backup unasked.
 */
import { z } from "@hono/zod-openapi";
import { existsSync, lstatSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { BackupLimits } from "../config.ts";
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

const BACKUP_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;

const BackupParam = z.object({
  name: z.string().regex(BACKUP_NAME, "a plain file name: letters, digits, . _ -, not starting with a dot").openapi({ param: { name: "name", in: "path" }, example: "backup-2024-01-15.db" }),
});

const Backup = z.object({ name: z.string(), bytes: z.number().int(), modifiedAt: z.number().int() });
const BackupList = z.object({
  backups: z.array(Backup).describe("oldest first"),
  count: z.number().int(),
  bytes: z.number().int(),
  maxCount: z.number().int(),
  maxBytes: z.number().int(),
});

/** The backups in the folder (plain files with a backup's name), oldest first. */
function backupsIn(dir: string): z.infer<typeof Backup>[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && BACKUP_NAME.test(entry.name))
    .map((entry) => {
      const stat = statSync(join(dir, entry.name));
      return { name: entry.name, bytes: stat.size, modifiedAt: Math.floor(stat.mtimeMs) };
    })
    .sort((a, b) => a.modifiedAt - b.modifiedAt || a.name.localeCompare(b.name));
}

const BOOLEAN_QUERY = z.strictObject({ quick: z.enum(["true", "false"]).optional() });

export function maintenanceRoutes(app: Api, limits: BackupLimits, backupDir: () => Promise<string | null>): void {
  const folder = async (): Promise<string> => {
    const dir = await backupDir();
    if (!dir) throw new ApiError(501, "this server has no backup folder (an in-memory database, or backups switched off)");
    return dir;
  };

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
          const dir = await folder();
          const file = name ?? `backup-${new Date().toISOString().replace(/[:.]/g, "-")}.db`;
          const held = backupsIn(dir);
          const heldBytes = held.reduce((sum, backup) => sum + backup.bytes, 0);
          if (held.length >= limits.maxCount) {
            throw new ConflictError(`the backup folder holds ${held.length} backups, its cap (TRADELITE_BACKUP_MAX_COUNT); delete old ones first (DELETE /v1/maintenance/backups/{name})`);
          }
          // A backup is about the database's size (VACUUM INTO leaves out free pages and the WAL's
          // superseded frames): the file and WAL bound it from above.
          const info = await maintenance.info();
          if (heldBytes + info.fileBytes + info.walBytes > limits.maxBytes) {
            throw new ConflictError(
              `the backup folder holds ${heldBytes} bytes, and a backup of up to ${info.fileBytes + info.walBytes} more would pass its cap of ${limits.maxBytes} (TRADELITE_BACKUP_MAX_BYTES); delete old ones first`,
            );
          }
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
      path: "/v1/maintenance/backups",
      summary: "The backups in the server's backup folder, oldest first, with the folder's caps",
      responses: { 200: { description: "the backups", content: { "application/json": { schema: BackupList } } }, ...errorResponses(501) },
    }),
    async (c) => {
      const backups = backupsIn(await folder());
      return c.json({ backups, count: backups.length, bytes: backups.reduce((sum, backup) => sum + backup.bytes, 0), ...limits }, 200);
    },
  );

  app.openapi(
    route({
      method: "delete",
      path: "/v1/maintenance/backups/{name}",
      summary: "Remove one backup from the server's backup folder",
      request: { params: BackupParam },
      responses: { 200: { description: "removed", content: { "application/json": { schema: z.object({ deleted: z.string() }) } } }, ...errorResponses(404, 501) },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      const dir = await folder();
      // The name is a backup's plain name (the parameter's pattern); a file by that name is one.
      const path = join(dir, name);
      if (!existsSync(path) || !lstatSync(path).isFile()) throw new ApiError(404, `no backup named ${name}`);
      rmSync(path);
      return c.json({ deleted: name }, 200);
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
