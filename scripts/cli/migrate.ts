/**
 * `tradelite migrate --from data/trading.db --to postgres://...`: every table copied into
 * PostgreSQL in batches, then both sides compared (row counts, a checksum per symbol or table).
 * Idempotent, resumable (run it again after a kill), exit 1 on any difference.
 */
import { existsSync } from "node:fs";
import { compareSqliteWithPostgres, copySqliteToPostgres } from "../../src/entries/migrate.ts";
import { DEFAULT_DB_PATH } from "../../src/config.ts";
import { PostgresPool, redactUrl, resolvePostgresUrl } from "../../src/entries/postgres.ts";
import { ValidationError } from "../../src/mod.ts";
import { CliFailure, EXIT_FAILURE, EXIT_OK, formatNumber, parseOptions, printSummary, Progress, text, UsageError, type Command } from "./shared.ts";

const USAGE = `usage: tradelite migrate [--from PATH] [--to URL] [--batch N] [--verify-only] [--json]

Copies every table of a SQLite database (--from, default $TRADELITE_DB, else ./data/trading.db)
into PostgreSQL (--to, default $TRADELITE_DATABASE_URL, then $DATABASE_URL), creating the
schema there, in batches that each commit whole. Rows already copied are left alone, so a second
run changes nothing and a run that was killed is finished by running it again; the audit chain
is copied id for id and hash for hash. The source's open audit rollups (live appends not yet in
an entry) are first closed into entries there, the one change made to the source, so the copy's
audit log accounts for every bar the source acknowledged. Exchange calendars are copied whole (a calendar whose days
differ on PostgreSQL is replaced by the source's). Then both sides are compared: row counts, a
SHA-256 per symbol (bars, quotes) or per table, and every calendar day for day. --verify-only
compares without copying.
A target holding rows this source does not (entries appended on PostgreSQL, another database's
copy, a calendar the source lacks other than a shipped one as shipped) is refused before anything
is written: copying into it would break its audit chain.
--json prints the report as one JSON object (rowsCopied, rowsIdentical, rollupsClosed,
differences ...). --verify-only names a source with open rollups as a difference.
Exit codes: 0 copied and identical, 1 a difference or a failure, 2 a usage mistake.`;

const OPTIONS = { from: { type: "string" }, to: { type: "string" }, batch: { type: "string" }, "verify-only": { type: "boolean" }, json: { type: "boolean" } } as const;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (positionals.length > 0) throw new UsageError("migrate takes options only");
  const from = text(values, "from") ?? (process.env.TRADELITE_DB || DEFAULT_DB_PATH);
  if (!existsSync(from)) throw new CliFailure(`no SQLite database at ${from}`);
  let url: string;
  try {
    url = resolvePostgresUrl(text(values, "to"));
  } catch (error) {
    throw new UsageError(`--to: ${(error as ValidationError).issues?.[0]?.message ?? String(error)}`);
  }
  const batchText = text(values, "batch") ?? "10000";
  if (!/^\d{1,7}$/.test(batchText) || Number(batchText) < 1) throw new UsageError(`--batch expects a whole number of rows, got ${JSON.stringify(batchText)}`);

  const pool = new PostgresPool({ url, max: 2 });
  const started = performance.now();
  try {
    let copied: Awaited<ReturnType<typeof copySqliteToPostgres>> | null = null;
    if (!values["verify-only"]) {
      let progress: Progress | null = null;
      copied = await copySqliteToPostgres(from, pool, {
        batchRows: Number(batchText),
        onProgress: ({ table, copied: done, total }) => {
          if (progress?.label !== table) {
            progress?.done();
            progress = new Progress(table, total, table === "calendars" ? " calendars" : " rows");
          }
          progress.update(done);
        },
      });
      (progress as Progress | null)?.done();
      const { written: calendarsWritten, identical } = copied.calendars;
      // With --json the per-table lines are the report's; people still see them, on stderr.
      const say = values.json ? console.error : console.log;
      if (copied.rollupsClosed > 0) say(`audit rollups: ${copied.rollupsClosed} open on the source, closed into entries there and copied`);
      say(`calendars: ${calendarsWritten.length} copied${calendarsWritten.length ? ` (${calendarsWritten.join(", ")})` : ""}, ${identical.length} already identical`);
      for (const { table, rows, written } of copied.tables) say(`${table}: ${formatNumber(rows)} rows, ${formatNumber(written)} copied`);
    }
    const verifying = performance.now();
    const differences = await compareSqliteWithPostgres(from, pool);
    for (const difference of differences) {
      const which = difference.symbol ?? difference.calendar;
      console.error(`different: ${difference.table}${which === undefined ? "" : ` ${which}`}: ${difference.what}`);
    }
    const seconds = (performance.now() - started) / 1000;
    if (values.json) {
      const copy = copied && { rowsCopied: copied.written, rowsIdentical: copied.rows - copied.written, rollupsClosed: copied.rollupsClosed, tables: copied.tables, calendars: copied.calendars };
      console.log(JSON.stringify({ from, to: redactUrl(url), identical: differences.length === 0, ...copy, differences, seconds }));
      return differences.length === 0 ? EXIT_OK : EXIT_FAILURE;
    }
    printSummary(differences.length === 0 ? "migration verified: identical" : "migration found differences", [
      ["from", from],
      ["to", redactUrl(url)],
      ...(copied
        ? ([
            // Rows the target already held as they are were left alone, not copied again.
            ["rows copied", copied.written],
            ["rows already identical", copied.rows - copied.written],
            ["calendars copied", copied.calendars.written.length],
            ["audit rollups closed", copied.rollupsClosed],
            ["copy", `${(copied.durationMs / 1000).toFixed(1)} s (${formatNumber(Math.round(copied.rows / Math.max(copied.durationMs / 1000, 0.001)))} rows/s)`],
          ] as [string, string | number][])
        : []),
      ["verify", `${((performance.now() - verifying) / 1000).toFixed(1)} s`],
      ["differences", differences.length],
      ["took", `${seconds.toFixed(1)} s`],
    ]);
    return differences.length === 0 ? EXIT_OK : EXIT_FAILURE;
  } finally {
    await pool.close();
  }
}

export const migrateCommand: Command = { name: "migrate", summary: "copy a SQLite database into PostgreSQL and verify the copy", usage: USAGE, options: OPTIONS, run };
