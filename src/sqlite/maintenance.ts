/**
 * The ADR's "periodic vacuum and optimization": checkpoints, optimize, vacuum, integrity checks,
 * online backups and file statistics, and a timer that runs the routine ones. Each run is
 * timed into recovery_metrics and recorded in the audit log.
 */
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { ConflictError, StorageError, ValidationError } from "../domain/errors.ts";
import type { AuditRecorder } from "./audit.ts";
import { guard, isMemoryPath, readPragma, type Connection } from "./connection.ts";
import type { MetricRepository } from "./metrics.ts";
import { prepareChangeLogReader, prepareChangeTrim } from "./changes.ts";
import {
  CHECKPOINT_MODES,
  type CheckpointMode,
  type CheckpointResult,
  type IntegrityResult,
  type MaintenanceStats,
  type StorageInfo,
} from "../domain/maintenance.ts";

/** The tables whose rows stats() counts: our constants, never input. */
const TABLES = ["market_data", "quotes", "session_cache", "model_artifacts", "audit_log", "user_preferences", "recovery_metrics"] as const;

/** Run an incremental vacuum when at least this share of the file is free pages. */
const FREE_PAGE_SHARE = 0.1;

/**
 * `rollUpDue` closes the audit rollups open past their interval (src/domain/audit-rollup.ts): a
 * recorder that stops writing would otherwise leave its last rollup open until the next append
 * or the next opening.
 */
export function createMaintenance(conn: Connection, metrics: MetricRepository, audit: AuditRecorder, rollUpDue: () => number) {
  const counts = Object.fromEntries(TABLES.map((table) => [table, conn.prepare<{ count: number }>(`SELECT count(*) AS count FROM ${table}`)]));
  const pragma = (name: string) => readPragma(conn.sqlite, name);
  const changeLog = prepareChangeLogReader(conn);
  const trimChanges = prepareChangeTrim(conn);
  let timer: ReturnType<typeof setInterval> | undefined;

  /**
   * Records a run's duration as a metric and an audit entry, with any further metrics it has,
   * in one transaction.
   */
  function recordRun(
    action: string,
    durationMs: number,
    details: Record<string, string | number | boolean>,
    more: [name: string, value: number, labels: Record<string, string>][] = [],
  ): void {
    conn.writeTransaction(() => {
      metrics.record(`sqlite.${action}.ms`, durationMs);
      for (const [name, value, labels] of more) metrics.record(name, value, labels);
      audit(`maintenance.${action}`, null, details);
    });
  }

  /**
   * recordRun for the runs that change no data (a checkpoint, an integrity check): they must
   * still answer when the disk is full, which is when they are wanted most. There, and only
   * there (SQLITE_FULL), the run is answered without its metric and audit entry, which cannot
   * be written; every other failure to record still fails the call.
   */
  function recordCheck(...args: Parameters<typeof recordRun>): void {
    try {
      recordRun(...args);
    } catch (error) {
      if (!(error instanceof StorageError && error.code.startsWith("SQLITE_FULL"))) throw error;
    }
  }

  /** Where the data is and how big, without counting rows: cheap enough for a health check. */
  function info(): StorageInfo {
    const memory = isMemoryPath(conn.path);
    const size = (path: string) => (!memory && existsSync(path) ? statSync(path).size : 0);
    return guard(() => ({
      path: conn.path,
      fileBytes: size(conn.path),
      walBytes: size(`${conn.path}-wal`),
      journalMode: String(pragma("journal_mode")),
    }));
  }

  function timed<T>(work: () => T): { value: T; durationMs: number } {
    const started = performance.now();
    const value = guard(work);
    return { value, durationMs: performance.now() - started };
  }

  const maintenance = {
    /**
     * Copies WAL frames into the database file. A checkpoint that could not finish because a
     * reader still needs old frames (checkpoint starvation: the WAL can only grow) is recorded
     * as the metric `sqlite.checkpoint.behind`, the frames left behind.
     */
    checkpoint(mode: CheckpointMode = "PASSIVE"): CheckpointResult {
      if (!CHECKPOINT_MODES.includes(mode)) {
        throw new ValidationError([{ field: "mode", message: `expected one of ${CHECKPOINT_MODES.join(", ")}` }]);
      }
      const { value, durationMs } = timed(
        () => conn.sqlite.query(`PRAGMA wal_checkpoint(${mode})`).get() as { busy: number; log: number; checkpointed: number },
      );
      const result: CheckpointResult = {
        mode,
        busy: value.busy !== 0,
        walFrames: value.log,
        checkpointedFrames: value.checkpointed,
        durationMs,
      };
      const behind = value.log - value.checkpointed;
      recordCheck(
        "checkpoint",
        durationMs,
        { mode, busy: result.busy, walFrames: value.log, checkpointedFrames: value.checkpointed },
        behind > 0 ? [["sqlite.checkpoint.behind", behind, { mode }]] : [],
      );
      // Recording the run wrote a few pages to the WAL it had just emptied: a TRUNCATE asks for
      // an empty WAL, so fold those in too.
      if (mode === "TRUNCATE") guard(() => conn.sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)"));
      return result;
    },

    optimize(): { durationMs: number } {
      const { durationMs } = timed(() => {
        // The change log past what watch() keeps, whoever wrote it (src/sqlite/changes.ts).
        if (!conn.readonly) conn.writeTransaction(() => trimChanges(changeLog.head(), -1));
        conn.sqlite.run("PRAGMA optimize");
      });
      recordRun("optimize", durationMs, {});
      return { durationMs };
    },

    /** Incremental (default): returns free pages to the file system. Full: rebuilds the file. */
    vacuum(options: { incremental?: boolean } = {}): { freedPages: number; durationMs: number } {
      const incremental = options?.incremental ?? true;
      if (typeof incremental !== "boolean") throw new ValidationError([{ field: "incremental", message: "expected a boolean" }]);
      const before = Number(pragma("freelist_count"));
      const pagesBefore = Number(pragma("page_count"));
      const { durationMs } = timed(() =>
        incremental ? conn.sqlite.run("PRAGMA incremental_vacuum") : conn.sqlite.run("VACUUM"),
      );
      const freedPages = incremental ? before - Number(pragma("freelist_count")) : pagesBefore - Number(pragma("page_count"));
      recordRun("vacuum", durationMs, { incremental, freedPages });
      return { freedPages, durationMs };
    },

    integrityCheck(options: { quick?: boolean } = {}): IntegrityResult {
      const quick = options?.quick ?? false;
      if (typeof quick !== "boolean") throw new ValidationError([{ field: "quick", message: "expected a boolean" }]);
      let messages: string[];
      let durationMs: number;
      try {
        const run = timed(
          () => conn.sqlite.query(quick ? "PRAGMA quick_check" : "PRAGMA integrity_check").all() as Record<string, string>[],
        );
        messages = run.value.map((row) => Object.values(row)[0]!);
        durationMs = run.durationMs;
      } catch (error) {
        // Damage bad enough to stop the check itself is still its answer, not an exception.
        if (!(error instanceof StorageError) || !error.code.startsWith("SQLITE_CORRUPT")) throw error;
        messages = [error.message];
        durationMs = 0;
      }
      const ok = messages.length === 1 && messages[0] === "ok";
      recordCheck("integrity", durationMs, { quick, ok }, [["sqlite.integrity.ok", ok ? 1 : 0, { quick: String(quick) }]]);
      return { ok, problems: ok ? [] : messages, durationMs };
    },

    /**
     * A consistent online copy (VACUUM INTO): other connections and processes keep writing;
     * the copy holds every transaction committed before it began. Refuses an existing target.
     */
    backup(toPath: string): { path: string; bytes: number; durationMs: number } {
      if (typeof toPath !== "string" || toPath.length === 0 || toPath.includes("\0")) {
        throw new ValidationError([{ field: "path", message: "expected a file path" }]);
      }
      if (existsSync(toPath)) throw new ConflictError(`backup target ${toPath} already exists`);
      try {
        mkdirSync(dirname(toPath), { recursive: true });
      } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code ?? "error";
        throw new StorageError("SQLITE_CANTOPEN", `cannot create the folder for ${toPath} (${reason})`, { cause: error });
      }
      let durationMs: number;
      try {
        ({ durationMs } = timed(() => conn.sqlite.query("VACUUM INTO ?").run(toPath)));
      } catch (error) {
        // A failed VACUUM INTO (a full disk) leaves what it had written under the name: the name
        // was free when we started, so the partial file is ours, and a retry must find it free.
        rmSync(toPath, { force: true });
        throw error;
      }
      const bytes = statSync(toPath).size;
      recordRun("backup", durationMs, { bytes });
      return { path: toPath, bytes, durationMs };
    },

    info,

    stats(): MaintenanceStats {
      const current = info();
      return guard(() => ({
        ...current,
        pageSize: Number(pragma("page_size")),
        pageCount: Number(pragma("page_count")),
        freePages: Number(pragma("freelist_count")),
        rows: Object.fromEntries(TABLES.map((table) => [table, counts[table]!.get()!.count])),
      }));
    },

    /**
     * Closes the audit rollups that are due, then runs optimize and a PASSIVE checkpoint, every
     * `everyMs` (and an incremental vacuum once a tenth of the file is free pages) on a timer that
     * does not keep the process alive. A failed run is recorded as the metric `maintenance.error`, never thrown into the timer. Stops on
     * close() or stopMaintenance().
     */
    startMaintenance(options: { everyMs: number }): void {
      const everyMs = options?.everyMs;
      if (!(Number.isSafeInteger(everyMs) && everyMs >= 100)) {
        throw new ValidationError([{ field: "everyMs", message: "expected a whole number of milliseconds >= 100" }]);
      }
      maintenance.stopMaintenance();
      timer = setInterval(() => {
        if (conn.closed) return maintenance.stopMaintenance();
        const started = performance.now();
        try {
          rollUpDue();
          maintenance.optimize();
          maintenance.checkpoint("PASSIVE");
          if (Number(pragma("freelist_count")) >= FREE_PAGE_SHARE * Number(pragma("page_count"))) {
            maintenance.vacuum({ incremental: true });
          }
          metrics.record("maintenance.run.ms", performance.now() - started);
        } catch (error) {
          try {
            const code = error instanceof StorageError ? error.code : "ERROR";
            metrics.record("maintenance.error", 1, { code });
          } catch {
            // The database itself is failing; the next run tries again.
          }
        }
      }, everyMs);
      timer.unref();
    },

    stopMaintenance(): void {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },

    get running(): boolean {
      return timer !== undefined;
    },
  };
  return maintenance;
}

export type Maintenance = ReturnType<typeof createMaintenance>;
