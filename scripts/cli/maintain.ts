/** `tradelite maintain`: checkpoint and optimize, and on request vacuum, back up, check integrity. */
import { EXIT_FAILURE, EXIT_OK, formatBytes, openCliDatabase, parseOptions, printSummary, text, UsageError, type Command } from "./shared.ts";

const USAGE = `usage: tradelite maintain [--vacuum] [--backup PATH] [--integrity] [--db PATH]

Always: a WAL checkpoint (TRUNCATE) and PRAGMA optimize. --vacuum rebuilds the file (returns
free pages to the disk); --backup PATH writes a consistent copy (VACUUM INTO) to a new file;
--integrity runs PRAGMA integrity_check and exits 1 when it finds anything.`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, { vacuum: { type: "boolean" }, backup: { type: "string" }, integrity: { type: "boolean" }, db: { type: "string" } });
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (positionals.length > 0) throw new UsageError("maintain takes options only");
  const db = openCliDatabase(text(values, "db"), { existing: true });
  const rows: [string, string | number][] = [["database", db.path]];
  let healthy = true;
  try {
    const checkpoint = db.maintenance.checkpoint("TRUNCATE");
    rows.push(["checkpoint", `${checkpoint.checkpointedFrames} of ${checkpoint.walFrames} WAL frames${checkpoint.busy ? " (busy: a reader held it back)" : ""}`]);
    rows.push(["optimize", `${db.maintenance.optimize().durationMs.toFixed(0)} ms`]);
    if (values.vacuum) {
      const vacuum = db.maintenance.vacuum();
      rows.push(["vacuum", `${vacuum.freedPages} pages freed in ${vacuum.durationMs.toFixed(0)} ms`]);
    }
    const backupPath = text(values, "backup");
    if (backupPath !== undefined) {
      const backup = db.maintenance.backup(backupPath);
      rows.push(["backup", `${backup.path} (${formatBytes(backup.bytes)})`]);
    }
    if (values.integrity) {
      const integrity = db.maintenance.integrityCheck();
      healthy = integrity.ok;
      rows.push(["integrity", integrity.ok ? "ok" : `${integrity.problems.length} problem(s): ${integrity.problems.slice(0, 5).join("; ")}`]);
    }
    const stats = db.maintenance.stats();
    rows.push(["size", `${formatBytes(stats.fileBytes)} (+ WAL ${formatBytes(stats.walBytes)}), ${stats.freePages} free pages`]);
  } finally {
    db.close();
  }
  printSummary(healthy ? "maintenance done" : "maintenance found problems", rows);
  return healthy ? EXIT_OK : EXIT_FAILURE;
}

export const maintainCommand: Command = { name: "maintain", summary: "checkpoint, optimize; --vacuum, --backup PATH, --integrity", usage: USAGE, run };
