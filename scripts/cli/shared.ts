/**
 * What every `tradelite` subcommand shares: option parsing that turns any mistake into a usage
 * error (exit 2), the database and cache the environment names, progress that is a bar on a
 * terminal and plain lines otherwise, and the one-screen summary.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { existsSync } from "node:fs";
import { formatIsoLocal, formatIsoUtc } from "../../src/domain/time.ts";
import { openDatabase, TradeliteError, ValidationError, type Database, type SettingsRequest } from "../../src/mod.ts";
import { readSettingsRequest } from "../../src/domain/settings.ts";
import { resolveDatabaseOptions } from "../../src/config.ts";
import { SessionCache } from "../../src/entries/cache.ts";
import { createSqliteStore } from "../../src/sqlite/store.ts";
export { formatBytes } from "../../src/domain/format.ts";
export { localDate } from "../../src/domain/calendar.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A mistake in how the command was called: printed with the command's usage, exit 2. */
export class UsageError extends Error {}

export interface Command {
  name: string;
  /** One line for `tradelite --help`. */
  summary: string;
  /** The command's own --help text. */
  usage: string;
  run(argv: string[]): Promise<number>;
}

export type OptionValues = Record<string, string | boolean | undefined>;

/** parseArgs, strict, with --help; a parse failure is a UsageError. */
export function parseOptions(
  argv: string[],
  options: NonNullable<ParseArgsConfig["options"]>,
): { values: OptionValues; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: true });
    return { values: parsed.values as OptionValues, positionals: parsed.positionals };
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0]!);
  }
}

/** A string option's value (undefined when not given). */
export function text(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/**
 * The database the environment names ($TRADELITE_DB, else ./data/trading.db), or `--db`, with
 * the settings it stores (time zone, bar stamping, calendar): no command is told them again.
 * `settings` must equal the stored ones (a new database stores them; `tradelite init`);
 * `initial` are settings a new database takes, after $TRADELITE_TIMEZONE and
 * $TRADELITE_BAR_TIMESTAMP, never compared with an existing one's.
 * `existing`: the command only reads or tends the file, so a missing one (a mistyped path) is an
 * error rather than a new empty database.
 */
export function openCliDatabase(
  path: string | undefined,
  options: { existing?: boolean; readonly?: boolean; settings?: SettingsRequest; initial?: SettingsRequest } = {},
): Database {
  const resolved = resolveDatabaseOptions(path === undefined ? {} : { path });
  if (options.existing && resolved.path !== ":memory:" && !existsSync(resolved.path)) {
    throw new CliFailure(`no database at ${resolved.path} (set TRADELITE_DB or pass --db)`);
  }
  return openDatabase({
    path: resolved.path,
    ...options.settings,
    initialSettings: { ...environmentSettings(), ...options.initial },
    ...(options.readonly ? { readonly: true } : {}),
  });
}

/**
 * $TRADELITE_TIMEZONE and $TRADELITE_BAR_TIMESTAMP: what a database the CLI creates stores where
 * no option names it. Only creation defaults: a database that stores settings keeps its own.
 */
export function environmentSettings(env: Record<string, string | undefined> = process.env): SettingsRequest {
  const given: Record<string, string> = {};
  if (env.TRADELITE_TIMEZONE) given.timezone = env.TRADELITE_TIMEZONE;
  if (env.TRADELITE_BAR_TIMESTAMP) given.barTimestamp = env.TRADELITE_BAR_TIMESTAMP;
  try {
    return readSettingsRequest(given);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const variable = (field?: string) => (field === "barTimestamp" ? "TRADELITE_BAR_TIMESTAMP" : "TRADELITE_TIMEZONE");
    throw new CliFailure(error.issues.map((issue) => `${variable(issue.field)}: ${issue.message}`).join("; "));
  }
}

/** A failure to report as it is (exit 1), without an error class name. */
export class CliFailure extends Error {}

/** The session cache over `db` ($TRADELITE_CACHE_DIR, else ./data/session_cache), or `--cache-dir`. */
export function openCliCache(db: Database, dir: string | undefined): SessionCache {
  return new SessionCache({ store: createSqliteStore(db), ...(dir === undefined ? {} : { dir }) });
}

/** The error's message for a person: ours as they are, others with their name. */
export function describeError(error: unknown): string {
  if (error instanceof TradeliteError || error instanceof UsageError || error instanceof CliFailure) return error.message;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Progress: a bar redrawn in place on a terminal (stderr), plain lines at most every few seconds
 * otherwise, so a log or a pipe gets a readable record and stdout stays for the data.
 */
export class Progress {
  readonly #tty = Boolean(process.stderr.isTTY);
  #lastLine = 0;
  #drawn = false;

  constructor(readonly label: string, readonly total: number | null, readonly unit = "") {}

  #last: [number, string] = [0, ""];

  update(done: number, note = "", force = false): void {
    const now = performance.now();
    this.#last = [done, note];
    if (this.#tty) {
      if (!force && now - this.#lastLine < 100) return;
      this.#lastLine = now;
      const width = 30;
      const fraction = this.total ? Math.min(1, done / this.total) : 0;
      const bar = this.total ? `[${"#".repeat(Math.round(fraction * width)).padEnd(width, ".")}] ${(fraction * 100).toFixed(0).padStart(3)}%` : "";
      process.stderr.write(`\r${this.label} ${bar} ${formatNumber(done)}${this.unit} ${note}`.slice(0, 120).padEnd(80));
      this.#drawn = true;
    } else {
      if (now - this.#lastLine < 2_000) return;
      this.#lastLine = now;
      const percent = this.total ? ` (${((done / this.total) * 100).toFixed(0)}%)` : "";
      process.stderr.write(`${this.label}: ${formatNumber(done)}${this.unit}${percent} ${note}\n`);
    }
  }

  /** Ends the bar (drawn once more, so it shows where it ended) before other output. */
  done(): void {
    if (this.#drawn) {
      this.update(...this.#last, true);
      process.stderr.write("\n");
    }
    this.#drawn = false;
  }
}

export function formatNumber(value: number): string {
  return value.toLocaleString("en-US");
}

/** A time for people: in `timeZone` with its offset (2024-01-15T09:31:00+08:00), or ISO UTC when null (--utc). */
export function formatTime(ms: number | null, timeZone: string | null = null): string {
  if (ms === null) return "-";
  return timeZone === null ? formatIsoUtc(ms) : formatIsoLocal(ms, timeZone);
}

/** Lines of `label: value` with the labels aligned: the summary every command ends with. */
export function printSummary(title: string, rows: [string, string | number][]): void {
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log(`\n${title}`);
  for (const [label, value] of rows) console.log(`  ${label.padEnd(width)}  ${typeof value === "number" ? formatNumber(value) : value}`);
}
