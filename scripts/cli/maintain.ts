/**
 * `tradelite maintain`: close the audit rollups that are due, checkpoint and optimize, and on
 * request build derived days, vacuum, back up, check integrity.
 */
import { ROLLUP_ACTION, type Store } from "../../src/mod.ts";
import { CliFailure, EXIT_FAILURE, EXIT_OK, formatBytes, openCliStore, parseOptions, printSummary, STORE_OPTIONS, STORE_USAGE, storeChoice, text, UsageError, type Command } from "./shared.ts";

const USAGE = `usage: tradelite maintain [--derive] [--vacuum] [--backup PATH] [--integrity] [--db PATH | --database-url URL] [--json]

Always: the audit rollups of live appends open for a day or longer are closed into entries (as
the store's own maintenance timer does), then a WAL checkpoint (TRUNCATE) and PRAGMA optimize.
--derive builds the derived days (what 1d, 1w and 1M reads take) of every symbol not built yet,
one symbol per transaction: a database from before derived days otherwise builds a symbol at
its next write (about 0.2 s per ten years of minutes). --vacuum rebuilds the file (returns free
pages to the disk); --backup PATH writes a consistent copy (VACUUM INTO) to a new file;
--integrity runs PRAGMA integrity_check and exits 1 when it finds anything. --json prints what
was done as one JSON object.
On PostgreSQL: ANALYZE (the server checkpoints on its own), --vacuum is VACUUM, --integrity
needs the amcheck extension, and --backup is refused (exit 1): a backup there is pg_dump's.

${STORE_USAGE}`;

const OPTIONS = { derive: { type: "boolean" }, vacuum: { type: "boolean" }, backup: { type: "string" }, integrity: { type: "boolean" }, json: { type: "boolean" }, ...STORE_OPTIONS } as const;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (positionals.length > 0) throw new UsageError("maintain takes options only");
  const choice = storeChoice(values);
  const backupPath = text(values, "backup");
  // Refused before anything runs: a half-done maintenance that then fails helps no one.
  if (choice.backend === "postgres" && backupPath !== undefined) {
    throw new CliFailure("--backup writes a SQLite file (VACUUM INTO); a PostgreSQL database is backed up with pg_dump");
  }
  const started = Date.now();
  const store = await openCliStore(choice, { existing: true });
  let report: Report;
  try {
    report = await maintain(store, started, { derive: Boolean(values.derive), vacuum: Boolean(values.vacuum), integrity: Boolean(values.integrity), backupPath });
  } finally {
    await store.close();
  }
  const healthy = report.integrity?.ok ?? true;
  if (values.json) console.log(JSON.stringify(report));
  else printSummary(healthy ? "maintenance done" : "maintenance found problems", describe(report));
  return healthy ? EXIT_OK : EXIT_FAILURE;
}

type Report = {
  database: string;
  /** Audit rollups closed into entries while it ran (the due ones; a live writer's own too). */
  rollups: number;
  /** Symbols whose derived days were built (with --derive). */
  derived?: number;
  checkpoint?: Awaited<ReturnType<Store["maintenance"]["checkpoint"]>>;
  optimize: { durationMs: number };
  vacuum?: { freedPages: number; durationMs: number };
  backup?: { path: string; bytes: number; durationMs: number };
  integrity?: { ok: boolean; problems: string[] };
  size: { fileBytes: number; walBytes: number; freePages: number };
};

async function maintain(store: Store, started: number, asked: { derive: boolean; vacuum: boolean; integrity: boolean; backupPath: string | undefined }): Promise<Report> {
  const database = (await store.maintenance.info()).path;
  // Opening the store closed the rollups due then (as every opening does); this closes any that
  // came due since, and the count is both, read back from the log.
  await store.audit.rollUp({ due: true });
  const rollups = (await store.audit.query({ action: ROLLUP_ACTION, since: started })).length;
  const derived = asked.derive ? await store.buildDerivedDays() : undefined;
  // PostgreSQL checkpoints by itself, and CHECKPOINT is a superuser's right there.
  const checkpoint = store.backend === "postgres" ? undefined : await store.maintenance.checkpoint("TRUNCATE");
  const optimize = await store.maintenance.optimize();
  const vacuum = asked.vacuum ? await store.maintenance.vacuum() : undefined;
  const backup = asked.backupPath === undefined ? undefined : await store.maintenance.backup(asked.backupPath);
  const integrity = asked.integrity ? await store.maintenance.integrityCheck() : undefined;
  const { fileBytes, walBytes, freePages } = await store.maintenance.stats();
  return { database, rollups, derived, checkpoint, optimize, vacuum, backup, integrity, size: { fileBytes, walBytes, freePages } };
}

function describe(report: Report): [string, string | number][] {
  const rows: [string, string | number][] = [["database", report.database], ["audit rollups closed", report.rollups]];
  if (report.derived !== undefined) rows.push(["derived days built", `${report.derived} symbol(s)`]);
  const { checkpoint, vacuum, backup, integrity, size } = report;
  if (checkpoint) rows.push(["checkpoint", `${checkpoint.checkpointedFrames} of ${checkpoint.walFrames} WAL frames${checkpoint.busy ? " (busy: a reader held it back)" : ""}`]);
  rows.push(["optimize", `${report.optimize.durationMs.toFixed(0)} ms`]);
  if (vacuum) rows.push(["vacuum", `${vacuum.freedPages} pages freed in ${vacuum.durationMs.toFixed(0)} ms`]);
  if (backup) rows.push(["backup", `${backup.path} (${formatBytes(backup.bytes)})`]);
  if (integrity) rows.push(["integrity", integrity.ok ? "ok" : `${integrity.problems.length} problem(s): ${integrity.problems.slice(0, 5).join("; ")}`]);
  rows.push(["size", `${formatBytes(size.fileBytes)} (+ WAL ${formatBytes(size.walBytes)}), ${size.freePages} free pages`]);
  return rows;
}

export const maintainCommand: Command = { name: "maintain", summary: "close due audit rollups, checkpoint, optimize; --derive, --vacuum, --backup PATH, --integrity", usage: USAGE, options: OPTIONS, run };
