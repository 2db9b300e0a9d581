/**
 * `tradelite settings`: what the database remembers (time zone, bar stamping, default calendar,
 * symbol normalization),
 * and `tradelite settings set KEY VALUE` to change one, recorded in the audit log.
 */
import { RESTAMP_INTERVALS, ValidationError, type RestampInterval, type SettingsRequest, type Store } from "../../src/mod.ts";
import { SETTING_KEYS, settingNameOfKey } from "../../src/domain/settings.ts";
import { CliFailure, EXIT_OK, openCliStore, parseOptions, printSummary, STORE_OPTIONS, STORE_USAGE, describeChoice, storeChoice, text, UsageError, type Command, type StoreChoice } from "./shared.ts";

const KEYS = Object.values(SETTING_KEYS);

const USAGE = `usage: tradelite settings [--db PATH | --database-url URL] [--json]
       tradelite settings set KEY VALUE [--db PATH | --database-url URL] [--json]
       tradelite settings set bar_timestamp start|end --restamp INTERVAL [--db PATH | --database-url URL]

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
  normalize_symbols  true or false: normalize every symbol (sh600519, 600519.XSHG ->
                  600519.SH) on write and read, refusing symbols that are not A-share codes
Processes that have the database open (a server) read a change when they next open it.
--json prints the settings (set: the key, its old and new value) as one JSON object.

${STORE_USAGE}`;

const OPTIONS = { ...STORE_OPTIONS, json: { type: "boolean" }, restamp: { type: "string" } } as const;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, OPTIONS);
  if (values.help) {
    console.log(USAGE);
    return EXIT_OK;
  }
  const choice = storeChoice(values);
  if (positionals.length === 0) return show(choice, Boolean(values.json));
  if (positionals[0] !== "set") throw new UsageError(`unknown subcommand ${JSON.stringify(positionals[0]!.slice(0, 40))}; settings shows them, settings set KEY VALUE changes one`);
  if (positionals.length !== 3) throw new UsageError("settings set takes a KEY and a VALUE");
  const [, key, value] = positionals as [string, string, string];
  const name = settingNameOfKey(key);
  if (name === undefined) throw new UsageError(`unknown setting ${JSON.stringify(key.slice(0, 40))}; expected ${KEYS.join(", ")}`);
  const restamp = text(values, "restamp");
  if (restamp !== undefined && name !== "barTimestamp") throw new UsageError("--restamp goes with settings set bar_timestamp");
  if (restamp !== undefined && !(RESTAMP_INTERVALS as readonly string[]).includes(restamp)) {
    throw new UsageError(`--restamp takes the interval the stored bars cover: ${RESTAMP_INTERVALS.join(", ")}`);
  }
  const change: SettingsRequest =
    name === "calendar"
      ? { calendar: value === "none" ? null : value }
      : name === "normalizeSymbols"
        ? { normalizeSymbols: value === "true" ? true : value === "false" ? false : (value as never) }
        : ({ [name]: value } as SettingsRequest);
  const store = await openCliStore(choice, { existing: true });
  try {
    const before = storedSettings(store);
    let after;
    try {
      after = await store.updateSettings(change, restamp === undefined ? undefined : { restamp: restamp as RestampInterval });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      throw new CliFailure(`${key}: ${error.issues.map((issue) => issue.message).join("; ")}`);
    }
    const from = before[name];
    const to = after[name];
    const bars = restamp === undefined || from === to ? undefined : await restampedBars(store, key);
    if (values.json) {
      console.log(JSON.stringify({ key, from, to, changed: from !== to, ...(bars === undefined ? {} : { restampedBars: bars }) }));
    } else if (from === to) {
      console.log(`${key} is already ${to ?? "none"}; nothing changed`);
    } else {
      const moved = bars === undefined ? "" : `; ${bars.toLocaleString("en-US")} bars moved ${restamp} ${to === "end" ? "later" : "earlier"}`;
      console.log(`${key}: ${from ?? "none"} -> ${to ?? "none"}${moved} (recorded in the audit log)`);
    }
  } finally {
    await store.close();
  }
  return EXIT_OK;
}

function storedSettings(store: Store) {
  return { timezone: store.timezone, barTimestamp: store.barTimestamp, calendar: store.calendar, normalizeSymbols: store.normalizeSymbols };
}

/** How many bars the change just made moved: its audit entry counts them (0 on an empty database). */
async function restampedBars(store: Store, key: string): Promise<number> {
  // Settings changes are few: their entries are read whole, and the change just made is the last.
  const entry = (await store.audit.query({ action: "settings.set" })).at(-1);
  const details = entry?.entity === key ? (entry.details as { restamped?: { bars: number } }) : undefined;
  return details?.restamped?.bars ?? 0;
}

async function show(choice: StoreChoice, json: boolean): Promise<number> {
  const store = await openCliStore(choice, { existing: true, readonly: true });
  try {
    const database = describeChoice(choice);
    if (json) {
      console.log(JSON.stringify({ database, ...storedSettings(store) }));
      return EXIT_OK;
    }
    printSummary(`settings of ${database}`, [
      [SETTING_KEYS.timezone, store.timezone],
      [SETTING_KEYS.barTimestamp, store.barTimestamp],
      [SETTING_KEYS.calendar, store.calendar ?? "none"],
      [SETTING_KEYS.normalizeSymbols, String(store.normalizeSymbols)],
    ]);
    return EXIT_OK;
  } finally {
    await store.close();
  }
}

export const settingsCommand: Command = { name: "settings", summary: "show the database's settings, or change one (audited)", usage: USAGE, options: OPTIONS, actions: ["set"], run };
