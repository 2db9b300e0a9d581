/**
 * What every `tradelite` subcommand shares: option parsing that turns any mistake into a usage
 * error (exit 2) in our words, the store and the session cache the options or the environment
 * name (SQLite or PostgreSQL, the same flags on every command), progress that is a bar on a
 * terminal and plain lines otherwise, and the one-screen summary.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { existsSync } from "node:fs";
import { formatIsoLocal, formatIsoUtc } from "../../src/domain/time.ts";
import { isSymbol, openStore, TradeliteError, ValidationError, type BackendName, type SettingsRequest, type Store } from "../../src/mod.ts";
import { readSettingsRequest } from "../../src/domain/settings.ts";
import { ADJUST_MODES, type AdjustMode } from "../../src/domain/adjusted-bars.ts";
import { resolveDatabaseOptions } from "../../src/config.ts";
import { SessionCache } from "../../src/entries/cache.ts";
import { redactUrl, resolvePostgresUrl } from "../../src/entries/postgres.ts";
export { formatBytes } from "../../src/domain/format.ts";
export { localDate } from "../../src/domain/calendar.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A mistake in how the command was called: printed with the command's usage, exit 2. */
export class UsageError extends Error {}

/** Refuses a command-line value that is not a symbol (a usage mistake, exit 2), quoting it. */
export function assertCliSymbol(value: string, label = ""): void {
  if (!isSymbol(value)) throw new UsageError(`${label}${JSON.stringify(String(value).slice(0, 70))} is not a symbol`);
}

/** An option the command does not take: printed with a pointer to its --help, exit 2. */
export class UnknownOptionError extends UsageError {
  constructor(readonly option: string) {
    super(`unknown option ${option}`);
  }
}

/** A command's options, as parseArgs takes them; --help (-h) is every command's. */
export type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Command {
  name: string;
  /** One line for `tradelite --help`. */
  summary: string;
  /** The command's own --help text. */
  usage: string;
  /** What it parses: completion is generated from these. */
  options: Options;
  /** Words its first argument may be (calendar list, settings set ...), for completion. */
  actions?: readonly string[];
  run(argv: string[]): Promise<number>;
}

export type OptionValues = Record<string, string | boolean | undefined>;

/** parseArgs, strict, with --help; a parse failure is a UsageError in our words. */
export function parseOptions(argv: string[], options: Options): { values: OptionValues; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: true });
    return { values: parsed.values as OptionValues, positionals: parsed.positionals };
  } catch (error) {
    throw parseFailure(error as Error & { code?: string });
  }
}

/** parseOptions, or null once --help has printed `usage` (the command then exits 0). */
export function parseOrHelp(argv: string[], options: Options, usage: string): { values: OptionValues; positionals: string[] } | null {
  const parsed = parseOptions(argv, options);
  if (!parsed.values.help) return parsed;
  console.log(usage);
  return null;
}

/** parseArgs' message names the option in quotes and, for an unknown one, explains `--`: ours is shorter. */
function parseFailure(error: Error & { code?: string }): UsageError {
  const option = /^Option '(-[^' ]*)/.exec(error.message)?.[1] ?? /^Unknown option '([^']*)'/.exec(error.message)?.[1];
  if (error.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option !== undefined) return new UnknownOptionError(option);
  if (error.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && option !== undefined) {
    return new UsageError(error.message.includes("argument missing") ? `${option} needs a value` : `${option} takes no value`);
  }
  return new UsageError(error.message.split("\n")[0]!);
}

/** The options of a read that adjusts prices (export, snapshot), and their usage text. */
export const ADJUST_OPTIONS = {
  adjust: { type: "string" },
  "as-of": { type: "string" },
  "adjust-volume": { type: "boolean" },
} as const;
export const ADJUST_USAGE = `  --adjust A           none (default), qfq (前复权: the latest prices are the traded ones) or
                       hfq (后复权: raw x the factor in force), by the symbol's stored factors
  --as-of T            with --adjust: only factors known at T count (a backtest's point in time)
  --adjust-volume      with --adjust: volume divided by the same ratio (price x volume stays)`;

/** The adjustment a command line asks for, as a read's options; a usage mistake names the option. */
export function adjustOptions(values: OptionValues): { adjust?: AdjustMode; asOf?: string; adjustVolume?: boolean } {
  const adjust = text(values, "adjust");
  if (adjust !== undefined && !(ADJUST_MODES as readonly string[]).includes(adjust)) throw new UsageError(`--adjust is ${ADJUST_MODES.join(", ")}`);
  const asOf = text(values, "as-of");
  if ((asOf !== undefined || values["adjust-volume"]) && (adjust === undefined || adjust === "none")) throw new UsageError("--as-of and --adjust-volume go with --adjust qfq or hfq");
  return {
    ...(adjust === undefined ? {} : { adjust: adjust as AdjustMode }),
    // As given: the store reads it by the one date rule.
    ...(asOf === undefined ? {} : { asOf }),
    ...(values["adjust-volume"] ? { adjustVolume: true } : {}),
  };
}

/** A string option's value (undefined when not given). */
export function text(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/** The options of every command that opens a store: where the data is. */
export const STORE_OPTIONS = {
  db: { type: "string" },
  "database-url": { type: "string" },
  backend: { type: "string" },
} as const satisfies Options;

/** The lines every such command's usage lists for STORE_OPTIONS (written once, here). */
export const STORE_USAGE = `  --db PATH            a SQLite database file ($TRADELITE_DB, else ./data/trading.db)
  --database-url URL   a PostgreSQL database instead ($TRADELITE_DATABASE_URL)
  --backend B          sqlite, sqlite-worker or postgres ($TRADELITE_BACKEND; default sqlite,
                       or postgres when a URL is given)`;

const BACKENDS: readonly BackendName[] = ["sqlite", "sqlite-worker", "postgres"];

/** Where a command's store is: a SQLite file on one of the SQLite backends, or a PostgreSQL URL. */
export type StoreChoice = { backend: "sqlite" | "sqlite-worker"; path: string } | { backend: "postgres"; url: string };

/**
 * The store the options name, else the environment: --db PATH or --database-url URL (never both);
 * the backend from --backend, else $TRADELITE_BACKEND unless the option given contradicts it
 * (--db with postgres, --database-url with a SQLite one: the option wins), else postgres for a
 * URL and `fallback` otherwise; the file $TRADELITE_DB, else ./data/trading.db; the URL
 * $TRADELITE_DATABASE_URL, then $DATABASE_URL.
 */
export function storeChoice(values: OptionValues, fallback: "sqlite" | "sqlite-worker" = "sqlite", env: Record<string, string | undefined> = process.env): StoreChoice {
  const path = text(values, "db");
  const url = text(values, "database-url");
  if (path !== undefined && url !== undefined) throw new UsageError("--db names a SQLite file and --database-url a PostgreSQL database: give one");
  const flag = text(values, "backend");
  const named = flag ?? (env.TRADELITE_BACKEND || undefined);
  if (named !== undefined && !(BACKENDS as readonly string[]).includes(named)) {
    throw new UsageError(`${flag === undefined ? "TRADELITE_BACKEND" : "--backend"} is ${BACKENDS.join(", ")}, got ${JSON.stringify(named.slice(0, 40))}`);
  }
  const contradicted = flag === undefined && (path !== undefined ? named === "postgres" : url !== undefined && named !== "postgres");
  const backend = named !== undefined && !contradicted ? (named as BackendName) : url === undefined ? fallback : "postgres";
  if (backend === "postgres") {
    if (path !== undefined) throw new UsageError("--db names a SQLite file; PostgreSQL takes --database-url");
    try {
      return { backend, url: resolvePostgresUrl(url, env) };
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      throw new UsageError(`${error.issues[0]?.message ?? error.message} (--database-url)`);
    }
  }
  if (url !== undefined) throw new UsageError(`--database-url names a PostgreSQL database; the ${backend} backend takes --db`);
  return { backend, path: resolveDatabaseOptions(path === undefined ? {} : { path }, env).path };
}

/** A choice for people: the file, or the URL without its password. */
export function describeChoice(choice: StoreChoice): string {
  return choice.backend === "postgres" ? redactUrl(choice.url) : choice.path;
}

/**
 * The store a choice names, with the settings it stores (time zone, bar stamping, calendar): no
 * command is told them again. `settings` must equal the stored ones (a new database stores them;
 * `tradelite init`); `initial` are settings a new database takes, after $TRADELITE_TIMEZONE and
 * $TRADELITE_BAR_TIMESTAMP, never compared with an existing one's. `existing`: the command only
 * reads or tends the data, so a missing SQLite file (a mistyped path) is an error rather than a
 * new empty database. `readonly` and `busyTimeoutMs` are SQLite's.
 */
export async function openCliStore(
  choice: StoreChoice,
  options: { existing?: boolean; readonly?: boolean; settings?: SettingsRequest; initial?: SettingsRequest; busyTimeoutMs?: number; queueDeadlineMs?: number } = {},
): Promise<Store> {
  const settings = { ...options.settings, initialSettings: { ...environmentSettings(), ...options.initial } };
  if (choice.backend === "postgres") return openStore({ backend: "postgres", url: choice.url, ...settings });
  if (options.existing && choice.path !== ":memory:" && !existsSync(choice.path)) {
    throw new CliFailure(`no database at ${choice.path} (set TRADELITE_DB or pass --db)`);
  }
  const sqlite = { path: choice.path, ...settings, ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }) };
  // The worker backend always has a writer: a read-only open is the in-thread backend's.
  if (choice.backend === "sqlite-worker") {
    return openStore({ backend: "sqlite-worker", ...sqlite, ...(options.queueDeadlineMs === undefined ? {} : { queueDeadlineMs: options.queueDeadlineMs }) });
  }
  return openStore({ backend: "sqlite", ...sqlite, ...(options.readonly ? { readonly: true } : {}) });
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

/**
 * Refuses a symbol the store holds no bars of (exit 1), naming the stored one it differs from only
 * in case: symbols are case-sensitive (000001.sh is not 000001.SH), so a mistyped case would
 * otherwise read as an empty series.
 */
export async function assertSymbolStored(store: Store, symbol: string): Promise<void> {
  const stored = (await store.overview()).map((row) => row.symbol);
  if (stored.includes(symbol)) return;
  const match = stored.find((name) => name.toLowerCase() === symbol.toLowerCase());
  throw new CliFailure(`no bars for ${symbol}${match === undefined ? "" : `; did you mean ${match}?`}`);
}

/**
 * The session cache over the store ($TRADELITE_CACHE_DIR, else ./data/session_cache, or `dir`):
 * `new SessionCache({ store, dir })`, the one form on every backend. On sqlite-worker the store
 * lends the cache a connection of its own on this thread, which waits 100 ms at most for the
 * write lock (src/worker/store.ts says why).
 */
export function openCliCache(store: Store, dir: string | undefined): SessionCache {
  return new SessionCache({ store, ...(dir === undefined ? {} : { dir }) });
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
