/**
 * Maintenance on PostgreSQL, mapped onto the server's own tools. optimize is ANALYZE; vacuum is
 * VACUUM (incremental) or VACUUM FULL (rebuilds the tables, as SQLite's VACUUM rebuilds the file);
 * checkpoint is CHECKPOINT (a superuser's or pg_checkpoint's right; the frame counts are SQLite's
 * notion and are 0 here: the server's WAL is written through by the checkpoint); integrityCheck
 * runs amcheck over every index of tradelite's tables (quick: bt_index_check; full: the parent
 * check with every heap tuple looked up), and says so when amcheck is not installed; info and
 * stats read the catalog. A backup answers NOT_SUPPORTED (the API's 501) naming pg_dump.
 */
import { StorageError, ValidationError } from "../domain/errors.ts";
import { CHECKPOINT_MODES, type CheckpointMode, type CheckpointResult, type IntegrityResult, type MaintenanceStats, type StorageInfo } from "../domain/maintenance.ts";
import { redactUrl, type PostgresPool } from "./connection.ts";

/** The tables stats() counts, as SQLite's stats() counts them. */
const TABLES = ["market_data", "quotes", "session_cache", "model_artifacts", "audit_log", "user_preferences", "recovery_metrics"] as const;

/**
 * tradelite's tables in the current schema and every table that inherits from them, at any depth:
 * a TimescaleDB hypertable keeps its rows in chunks (in _timescaledb_internal) that inherit from
 * it, and plain inheritance or partitions do the same. Sizes and integrity checks cover them all.
 */
const OUR_RELATIONS = `
  WITH RECURSIVE ours(oid) AS (
    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relname = ANY($1::text[]) AND c.relkind IN ('r', 'p')
    UNION
    SELECT i.inhrelid FROM pg_inherits i JOIN ours o ON i.inhparent = o.oid
  )`;

/** Told of each run that changed something (its metric and audit entry, once the records are wired in). */
export type RunRecorder = (action: string, durationMs: number, details: Record<string, string | number | boolean>) => Promise<void>;

export function createMaintenance(pool: PostgresPool, record: RunRecorder) {
  const notHere = (what: string, instead: string) => new StorageError("NOT_SUPPORTED", `${what} is not done through tradelite on PostgreSQL: ${instead}`);

  async function tableBytes(): Promise<number> {
    const rows = await pool.run(
      async (sql) =>
        (await sql.unsafe(`${OUR_RELATIONS} SELECT coalesce(sum(pg_total_relation_size(oid)), 0)::float8 AS bytes FROM ours`, [[...TABLES]])) as { bytes: number }[],
    );
    return rows[0]!.bytes;
  }

  async function info(): Promise<StorageInfo> {
    const rows = await pool.run(async (sql) => (await sql`SELECT pg_database_size(current_database())::float8 AS bytes`) as { bytes: number }[]);
    // PostgreSQL always writes ahead (its WAL is the server's, shared by every database on it).
    return { path: redactUrl(pool.url), fileBytes: rows[0]!.bytes, walBytes: 0, journalMode: "wal" };
  }

  return {
    async checkpoint(mode: CheckpointMode = "PASSIVE"): Promise<CheckpointResult> {
      if (!CHECKPOINT_MODES.includes(mode)) throw new ValidationError([{ field: "mode", message: `expected one of ${CHECKPOINT_MODES.join(", ")}` }]);
      const started = performance.now();
      await pool.run((sql) => sql`CHECKPOINT`);
      const durationMs = performance.now() - started;
      await record("checkpoint", durationMs, { mode });
      return { mode, busy: false, walFrames: 0, checkpointedFrames: 0, durationMs };
    },

    async optimize(): Promise<{ durationMs: number }> {
      const started = performance.now();
      await pool.run((sql) => sql`ANALYZE`);
      const durationMs = performance.now() - started;
      await record("optimize", durationMs, {});
      return { durationMs };
    },

    /** freedPages: the drop in the tables' size, in the server's block size. */
    async vacuum(options: { incremental?: boolean } = {}): Promise<{ freedPages: number; durationMs: number }> {
      const incremental = options?.incremental ?? false;
      if (typeof incremental !== "boolean") throw new ValidationError([{ field: "incremental", message: "expected a boolean" }]);
      const before = await tableBytes();
      const started = performance.now();
      await pool.run((sql) => (incremental ? sql`VACUUM` : sql`VACUUM FULL`));
      const durationMs = performance.now() - started;
      const blocks = await pool.run(async (sql) => (await sql`SELECT current_setting('block_size')::integer AS size`) as { size: number }[]);
      const freedPages = Math.max(0, Math.floor((before - (await tableBytes())) / blocks[0]!.size));
      await record("vacuum", durationMs, { incremental, freedPages });
      return { freedPages, durationMs };
    },

    async integrityCheck(options: { quick?: boolean } = {}): Promise<IntegrityResult> {
      const quick = options?.quick ?? false;
      if (typeof quick !== "boolean") throw new ValidationError([{ field: "quick", message: "expected a boolean" }]);
      const extension = await pool.run(
        async (sql) => (await sql`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'amcheck') AS installed`) as { installed: boolean }[],
      );
      if (!extension[0]!.installed) throw notHere("an integrity check", "the amcheck extension is not installed (CREATE EXTENSION amcheck, or run pg_amcheck)");
      const indexes = await pool.run(
        async (sql) =>
          (await sql.unsafe(
            `${OUR_RELATIONS}
             SELECT i.indexrelid::regclass::text AS name FROM pg_index i
             JOIN ours o ON o.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am a ON a.oid = ic.relam
             WHERE a.amname = 'btree' ORDER BY 1`,
            [[...TABLES]],
          )) as { name: string }[],
      );
      const started = performance.now();
      const problems: string[] = [];
      for (const { name } of indexes) {
        try {
          await pool.run((sql) => (quick ? sql`SELECT bt_index_check(${name}::regclass)` : sql`SELECT bt_index_parent_check(${name}::regclass, true)`));
        } catch (error) {
          problems.push(`${name}: ${(error as Error).message}`);
        }
      }
      const durationMs = performance.now() - started;
      const ok = problems.length === 0;
      await record("integrity", durationMs, { quick, ok });
      return { ok, problems, durationMs };
    },

    backup(): Promise<{ path: string; bytes: number; durationMs: number }> {
      return Promise.reject(notHere("a backup", "use pg_dump (or the server's base backups)"));
    },

    info,

    async stats(): Promise<MaintenanceStats> {
      const current = await info();
      const [page] = await pool.run(async (sql) => (await sql`SELECT current_setting('block_size')::integer AS size`) as { size: number }[]);
      const counts = await pool.run(
        async (sql) =>
          (await sql`SELECT
              (SELECT count(*) FROM market_data)::float8 AS market_data,
              (SELECT count(*) FROM quotes)::float8 AS quotes,
              (SELECT count(*) FROM session_cache)::float8 AS session_cache,
              (SELECT count(*) FROM model_artifacts)::float8 AS model_artifacts,
              (SELECT count(*) FROM audit_log)::float8 AS audit_log,
              (SELECT count(*) FROM user_preferences)::float8 AS user_preferences,
              (SELECT count(*) FROM recovery_metrics)::float8 AS recovery_metrics`) as Record<(typeof TABLES)[number], number>[],
      );
      return {
        ...current,
        pageSize: page!.size,
        pageCount: Math.ceil(current.fileBytes / page!.size),
        // PostgreSQL reuses free space inside its files (VACUUM marks it); nothing is kept free
        // at the end of a file as SQLite's freelist is.
        freePages: 0,
        rows: Object.fromEntries(TABLES.map((table) => [table, counts[0]![table]])),
      };
    },
  };
}
