/**
 * `tradelite settings`: what the database remembers (time zone, bar stamping, default calendar),
 * and `tradelite settings set KEY VALUE` to change one, recorded in the audit log.
 */
import { RESTAMP_INTERVALS, ValidationError, type RestampInterval, type SettingsRequest } from "../../src/mod.ts";
import { SETTING_KEYS, settingNameOfKey } from "../../src/domain/settings.ts";
import { CliFailure, EXIT_OK, openCliDatabase, parseOptions, printSummary, text, UsageError, type Command } from "./shared.ts";

const KEYS = Object.values(SETTING_KEYS);

const USAGE = `usage: tradelite settings [--db PATH] [--json]
       tradelite settings set KEY VALUE [--db PATH]
       tradelite settings set bar_timestamp start|end --restamp INTERVAL [--db PATH]

Shows the settings the database stores, or changes one (an audit entry names the old and the
new value). KEY is ${KEYS.join(", ")}:
  timezone        an IANA zone (Asia/Shanghai, UTC, America/New_York)
  bar_timestamp   start or end; refused while bars are stored unless --restamp names the
                  interval they cover (${RESTAMP_INTERVALS.join(", ")}): then every stored bar
                  moves by it (start -> end: later) in the same transaction, so each keeps
                  meaning the same minutes; stored daily bars stay at their midnight. It
                  rewrites every bar's key: on a large database, it takes a while and holds
                  the write lock throughout
  calendar        a calendar name, or none
Processes that have the database open (a server) read a change when they next open it.`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, { db: { type: "string" }, json: { type: "boolean" }, restamp: { type: "string" } });
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
  const restamp = text(values, "restamp");
  if (restamp !== undefined && name !== "barTimestamp") throw new UsageError("--restamp goes with settings set bar_timestamp");
  if (restamp !== undefined && !(RESTAMP_INTERVALS as readonly string[]).includes(restamp)) {
    throw new UsageError(`--restamp takes the interval the stored bars cover: ${RESTAMP_INTERVALS.join(", ")}`);
  }
  const change: SettingsRequest = name === "calendar" ? { calendar: value === "none" ? null : value } : ({ [name]: value } as SettingsRequest);
  const db = openCliDatabase(text(values, "db"), { existing: true });
  try {
    const before = db.storedSettings;
    let after;
    try {
      after = db.updateSettings(change, restamp === undefined ? undefined : { restamp: restamp as RestampInterval });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      throw new CliFailure(`${key}: ${error.issues.map((issue) => issue.message).join("; ")}`);
    }
    const from = before[name];
    const to = after[name];
    if (from === to) {
      console.log(`${key} is already ${to ?? "none"}; nothing changed`);
    } else {
      const moved = restamp === undefined ? "" : `; ${restampedBars(db, key)} bars moved ${restamp} ${to === "end" ? "later" : "earlier"}`;
      console.log(`${key}: ${from ?? "none"} -> ${to ?? "none"}${moved} (recorded in the audit log)`);
    }
  } finally {
    db.close();
  }
  return EXIT_OK;
}

/** How many bars the change just made moved: its audit entry counts them (0 on an empty database). */
function restampedBars(db: ReturnType<typeof openCliDatabase>, key: string): string {
  // Settings changes are few: their entries are read whole, and the change just made is the last.
  const entry = db.audit.query({ action: "settings.set" }).at(-1);
  const details = entry?.entity === key ? (entry.details as { restamped?: { bars: number } }) : undefined;
  return (details?.restamped?.bars ?? 0).toLocaleString("en-US");
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
