/**
 * `tradelite init`: creates a database with the settings it will remember (time zone, bar
 * stamping, default calendar). Run on an existing database it checks instead: the same settings
 * are fine (exit 0), different ones are refused naming both values (exit 1).
 */
import { ValidationError, type SettingsRequest } from "../../src/mod.ts";
import { CliFailure, EXIT_OK, openCliStore, parseOptions, printSummary, STORE_OPTIONS, STORE_USAGE, describeChoice, storeChoice, text, UsageError, type Command } from "./shared.ts";

const USAGE = `usage: tradelite init [--db PATH | --database-url URL] [--timezone Z] [--bar-timestamp start|end] [--calendar NAME] [--json]

Creates the database ($TRADELITE_DB, else ./data/trading.db, or --db; or PostgreSQL) with the settings every
command, the API and the library then read from it instead of being told:
  --timezone Z            IANA zone of naive times, date-only bounds and day buckets
                          (default $TRADELITE_TIMEZONE, else UTC; A-shares: Asia/Shanghai)
  --bar-timestamp S       where bars are stamped in their interval: start or end (default
                          $TRADELITE_BAR_TIMESTAMP, else start; Chinese terminals: end)
  --calendar NAME         the default calendar (default none)
  --json                  the settings as one JSON object
An existing database is checked: settings that differ from the stored ones are refused (exit 1);
change one with \`tradelite settings set\`.

${STORE_USAGE}`;

const OPTIONS = { ...STORE_OPTIONS, timezone: { type: "string" }, "bar-timestamp": { type: "string" }, calendar: { type: "string" }, json: { type: "boolean" } } as const;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (positionals.length > 0) throw new UsageError("init takes options only");
  const settings: SettingsRequest = {};
  const timezone = text(values, "timezone");
  const stamping = text(values, "bar-timestamp");
  const calendar = text(values, "calendar");
  if (timezone !== undefined) settings.timezone = timezone;
  if (stamping !== undefined) {
    if (stamping !== "start" && stamping !== "end") throw new UsageError(`--bar-timestamp is start or end, got ${JSON.stringify(stamping.slice(0, 40))}`);
    settings.barTimestamp = stamping;
  }
  if (calendar !== undefined) settings.calendar = calendar === "none" ? null : calendar;
  const choice = storeChoice(values);
  let store;
  try {
    store = await openCliStore(choice, { settings });
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    // A bad value is a usage mistake; a value the database contradicts is a failure.
    if (error.issues.some((issue) => issue.message.startsWith("the database stores"))) {
      throw new CliFailure(`the database's settings differ (${error.issues.map((issue) => `${issue.field}: ${issue.message}`).join("; ")}); change one with tradelite settings set`);
    }
    throw new UsageError(error.issues.map((issue) => `${issue.field === undefined ? "" : `--${flagOf(issue.field)}: `}${issue.message}`).join("; "));
  }
  try {
    const database = describeChoice(choice);
    if (values.json) {
      console.log(JSON.stringify({ database, backend: store.backend, timezone: store.timezone, barTimestamp: store.barTimestamp, calendar: store.calendar }));
      return EXIT_OK;
    }
    printSummary("database ready", [
      ["database", database],
      ["backend", store.backend],
      ["timezone", store.timezone],
      ["bar stamping", store.barTimestamp],
      ["calendar", store.calendar ?? "none"],
    ]);
  } finally {
    await store.close();
  }
  return EXIT_OK;
}

function flagOf(field: string): string {
  return field === "barTimestamp" ? "bar-timestamp" : field;
}

export const initCommand: Command = { name: "init", summary: "create a database with its time zone, bar stamping and calendar", usage: USAGE, options: OPTIONS, run };
