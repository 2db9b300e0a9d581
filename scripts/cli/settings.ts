/**
 * `tradelite settings`: what the database remembers (time zone, bar stamping, default calendar),
 * and `tradelite settings set KEY VALUE` to change one, recorded in the audit log.
 */
import { SETTING_KEYS, settingNameOfKey, ValidationError, type SettingsRequest } from "../../src/mod.ts";
import { CliFailure, EXIT_OK, openCliDatabase, parseOptions, printSummary, text, UsageError, type Command } from "./shared.ts";

const KEYS = Object.values(SETTING_KEYS);

const USAGE = `usage: tradelite settings [--db PATH] [--json]
       tradelite settings set KEY VALUE [--db PATH]

Shows the settings the database stores, or changes one (an audit entry names the old and the
new value). KEY is ${KEYS.join(", ")}:
  timezone        an IANA zone (Asia/Shanghai, UTC, America/New_York)
  bar_timestamp   start or end; refused while bars are stored (a bar's interval is not
                  stored, so they cannot be re-stamped safely: create a new database with
                  tradelite init --bar-timestamp and import into it)
  calendar        a calendar name, or none
Processes that have the database open (a server) read a change when they next open it.`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, { db: { type: "string" }, json: { type: "boolean" } });
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  if (positionals.length === 0) return show(text(values, "db"), Boolean(values.json));
  if (positionals[0] !== "set") throw new UsageError(`unknown subcommand ${JSON.stringify(positionals[0]!.slice(0, 40))}; settings shows them, settings set KEY VALUE changes one`);
  if (positionals.length !== 3) throw new UsageError("settings set takes a KEY and a VALUE");
  if (values.json) throw new UsageError("--json is for showing the settings");
  const [, key, value] = positionals as [string, string, string];
  const name = settingNameOfKey(key);
  if (name === undefined) throw new UsageError(`unknown setting ${JSON.stringify(key.slice(0, 40))}; expected ${KEYS.join(", ")}`);
  const change: SettingsRequest = name === "calendar" ? { calendar: value === "none" ? null : value } : ({ [name]: value } as SettingsRequest);
  const db = openCliDatabase(text(values, "db"), { existing: true });
  try {
    const before = db.storedSettings;
    let after;
    try {
      after = db.updateSettings(change);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      throw new CliFailure(`${key}: ${error.issues.map((issue) => issue.message).join("; ")}`);
    }
    const from = before[name];
    const to = after[name];
    console.log(from === to ? `${key} is already ${to ?? "none"}; nothing changed` : `${key}: ${from ?? "none"} -> ${to ?? "none"} (recorded in the audit log)`);
  } finally {
    db.close();
  }
  return EXIT_OK;
}

function show(path: string | undefined, json: boolean): number {
  const db = openCliDatabase(path, { existing: true, readonly: true });
  try {
    if (json) {
      console.log(JSON.stringify({ database: db.path, ...db.storedSettings }));
      return EXIT_OK;
    }
    printSummary(`settings of ${db.path}`, [
      [SETTING_KEYS.timezone, db.timezone],
      [SETTING_KEYS.barTimestamp, db.barTimestamp],
      [SETTING_KEYS.calendar, db.calendar ?? "none"],
    ]);
    return EXIT_OK;
  } finally {
    db.close();
  }
}

export const settingsCommand: Command = { name: "settings", summary: "show the database's settings, or change one (audited)", usage: USAGE, run };
