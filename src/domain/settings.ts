/**
 * The settings a database remembers: its time zone, where its bars are stamped, and its default
 * calendar. They are written once, when the database is created (or when a database older than
 * the settings table is first opened), and every consumer reads them instead of being told again.
 * The rules are here, once; each backend only reads and writes the rows.
 */
import { CALENDAR_NAME, type Calendar } from "./calendar.ts";
import { StorageError, ValidationError, type Issue } from "./errors.ts";
import { BAR_TIMESTAMPS, checkOptions, INTERVAL_SPECS, type BarTimestamp } from "./query.ts";
import type { JsonValue } from "./json.ts";
import { assertTimeZone, MAX_TIMESTAMP, MIN_TIMESTAMP } from "./time.ts";

export interface StoreSettings {
  /** The IANA zone naive timestamps and date-only bounds are read in, and day buckets follow. */
  timezone: string;
  /** Where stored bars are stamped within the interval they cover. */
  barTimestamp: BarTimestamp;
  /** The default calendar's name, or null for none. */
  calendar: string | null;
  /**
   * Every symbol a method takes is normalized (normalizeSymbol: `sh600519` -> `600519.SH`) on
   * write and read, and one that is not an A-share code is refused. Off by default: other
   * markets' symbols stay as given.
   */
  normalizeSymbols: boolean;
}

/** What an opening option or a change names; a key left out says nothing about that setting. */
export type SettingsRequest = Partial<StoreSettings>;

/** A database created without options stores these. */
export const DEFAULT_SETTINGS: Readonly<StoreSettings> = { timezone: "UTC", barTimestamp: "start", calendar: null, normalizeSymbols: false };

export const SETTING_NAMES = ["timezone", "barTimestamp", "calendar", "normalizeSymbols"] as const;
export type SettingName = (typeof SETTING_NAMES)[number];

/** The key each setting is stored under (the settings table's `key`; also the CLI's KEY). */
export const SETTING_KEYS: Readonly<Record<SettingName, string>> = {
  timezone: "timezone",
  barTimestamp: "bar_timestamp",
  calendar: "calendar",
  normalizeSymbols: "normalize_symbols",
};

/** One stored row: the value is JSON text. */
export interface SettingRow {
  key: string;
  value: string;
}

/** The audit action a settings change is recorded under (one entry per changed setting). */
export const SETTINGS_AUDIT_ACTION = "settings.set";

/** Checks one setting's value, adding an issue under `field` when it is not one. */
function checkSetting(name: SettingName, value: unknown, field: string, issues: Issue[]): void {
  switch (name) {
    case "timezone":
      try {
        assertTimeZone(value, field);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        issues.push(...error.issues);
      }
      return;
    case "barTimestamp":
      if (!(BAR_TIMESTAMPS as readonly unknown[]).includes(value)) {
        issues.push({ field, message: `must be "start" or "end", got ${JSON.stringify(value)}` });
      }
      return;
    case "calendar":
      if (value !== null && !(typeof value === "string" && CALENDAR_NAME.test(value))) {
        issues.push({ field, message: `expected a calendar name (a letter, then letters, digits, _ or -, at most 32) or null, got ${JSON.stringify(value)}` });
      }
      return;
    case "normalizeSymbols":
      if (typeof value !== "boolean") issues.push({ field, message: `expected true or false, got ${JSON.stringify(value)}` });
      return;
  }
}

/**
 * Reads a settings request (opening options, or a change): only SETTING_NAMES, each a valid
 * value; undefined leaves a setting unsaid. Throws a ValidationError naming every bad one.
 */
export function readSettingsRequest(value: unknown): SettingsRequest {
  const issues: Issue[] = [];
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ValidationError([{ message: `expected an object with ${SETTING_NAMES.join(", ")}` }]);
  }
  const request: SettingsRequest = {};
  for (const [key, given] of Object.entries(value)) {
    if (!(SETTING_NAMES as readonly string[]).includes(key)) {
      issues.push({ field: key, message: `unknown setting; expected ${SETTING_NAMES.join(", ")}` });
      continue;
    }
    if (given === undefined) continue;
    checkSetting(key as SettingName, given, key, issues);
    (request as Record<string, unknown>)[key] = given;
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return request;
}

/** The setting a stored key holds, or undefined for a key this version does not know. */
export function settingNameOfKey(key: string): SettingName | undefined {
  return SETTING_NAMES.find((name) => SETTING_KEYS[name] === key);
}

/**
 * The stored rows as settings (a key missing from the table is missing here). A row that is not
 * a valid value was written by something else: StorageError, not a silent default.
 */
export function settingsOfRows(rows: readonly SettingRow[]): SettingsRequest {
  const stored: SettingsRequest = {};
  for (const row of rows) {
    const name = settingNameOfKey(row.key);
    if (name === undefined) continue;
    let value: unknown;
    try {
      value = JSON.parse(row.value);
    } catch {
      throw new StorageError("SETTINGS_CORRUPT", `the stored setting ${row.key} is not JSON: ${JSON.stringify(row.value.slice(0, 60))}`);
    }
    const issues: Issue[] = [];
    checkSetting(name, value, row.key, issues);
    if (issues.length > 0) {
      throw new StorageError("SETTINGS_CORRUPT", `the stored setting ${row.key} is not valid: ${issues[0]!.message}`);
    }
    (stored as Record<string, unknown>)[name] = value;
  }
  return stored;
}

/** Rows for the given settings, in SETTING_NAMES order. */
export function rowsOfSettings(settings: SettingsRequest): SettingRow[] {
  return SETTING_NAMES.filter((name) => settings[name] !== undefined).map((name) => ({
    key: SETTING_KEYS[name],
    value: JSON.stringify(settings[name]),
  }));
}

function shown(value: unknown): string {
  return value === null ? "none" : String(value);
}

/**
 * The reconcile rule, run on every opening. What the database stores wins; an option that
 * contradicts it is refused with a ValidationError naming both values. A setting the database
 * does not store yet (a new database, or one older than the settings table) is taken from the
 * options, else from `initial` (creation defaults, never compared), else DEFAULT_SETTINGS: those
 * come back in `missing`, for the caller to store (once, in one transaction, re-reading first).
 */
export function reconcileSettings(
  stored: SettingsRequest,
  options: SettingsRequest,
  initial: SettingsRequest = {},
): { settings: StoreSettings; missing: SettingsRequest } {
  const issues: Issue[] = [];
  const settings = { ...DEFAULT_SETTINGS } as StoreSettings;
  const missing: SettingsRequest = {};
  for (const name of SETTING_NAMES) {
    const kept = stored[name];
    const asked = options[name];
    if (kept !== undefined) {
      if (asked !== undefined && asked !== kept) {
        issues.push({ field: name, message: `the database stores ${shown(kept)}, the option says ${shown(asked)}` });
      }
      (settings as unknown as Record<string, unknown>)[name] = kept;
    } else {
      const value = asked !== undefined ? asked : initial[name] !== undefined ? initial[name] : DEFAULT_SETTINGS[name];
      (settings as unknown as Record<string, unknown>)[name] = value;
      (missing as Record<string, unknown>)[name] = value;
    }
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return { settings, missing };
}

/** One setting's change, as the audit log records it. */
export interface SettingChange {
  name: SettingName;
  key: string;
  from: StoreSettings[SettingName];
  to: StoreSettings[SettingName];
}

/** The settings a change actually changes (a value equal to the current one is no change). */
export function settingChanges(current: StoreSettings, change: SettingsRequest): SettingChange[] {
  return SETTING_NAMES.filter((name) => change[name] !== undefined && change[name] !== current[name]).map((name) => ({
    name,
    key: SETTING_KEYS[name],
    from: current[name],
    to: change[name]!,
  }));
}

/**
 * A change of stamping while bars are stored, without `restamp`: refused, not guessed. The store
 * does not record the interval a row of market_data covers (a one-minute bar and a five-minute
 * bar are both one row), so it cannot know how far to move each bar; the caller says it.
 */
export function stampingChangeRefusal(bars: number, from: BarTimestamp, to: BarTimestamp): ValidationError {
  return new ValidationError([
    {
      field: "barTimestamp",
      message:
        `${bars} bars are stored stamped at the ${from} of their interval; changing the stamping to "${to}" changes ` +
        "what each of them means unless every bar moves by its interval, which the store does not record. Say the " +
        `interval the stored bars cover to re-stamp them in the same transaction (restamp: "1m"; ` +
        `tradelite settings set bar_timestamp ${to} --restamp 1m), or import into a new database created with the stamping you want`,
    },
  ]);
}

/** Intervals stored bars can be re-stamped by: the fixed-length ones (stored daily bars never move). */
export const RESTAMP_INTERVALS = ["1m", "5m", "15m", "30m", "1h", "2h"] as const;
export type RestampInterval = (typeof RESTAMP_INTERVALS)[number];

/** The second argument of updateSettings. */
export interface SettingsUpdateOptions {
  /**
   * With a change of `barTimestamp`: the interval every bar in market_data covers. Each bar moves
   * by it (start to end: later; end to start: earlier), in the transaction that changes the
   * setting, so every bar keeps meaning the same minutes. Stored daily bars stay at their
   * midnight (their stamp does not depend on the stamping) and quotes are instants.
   */
  restamp?: RestampInterval;
}

/** What a re-stamp does: how far each bar moves, under the interval it was asked with. */
export interface Restamp {
  interval: RestampInterval;
  shiftMs: number;
}

/**
 * Reads updateSettings' options against the request: `restamp` names one of RESTAMP_INTERVALS
 * and comes with a barTimestamp in the same change. Returns the interval, or undefined.
 */
export function readSettingsUpdateOptions(options: unknown, request: SettingsRequest): RestampInterval | undefined {
  const issues: Issue[] = [];
  const given = checkOptions<SettingsUpdateOptions>(options, ["restamp"], issues);
  const interval: unknown = given.restamp;
  if (interval !== undefined) {
    if (!(RESTAMP_INTERVALS as readonly unknown[]).includes(interval)) {
      issues.push({ field: "restamp", message: `must be one of ${RESTAMP_INTERVALS.join(", ")} (the interval the stored bars cover), got ${JSON.stringify(interval)}` });
    } else if (request.barTimestamp === undefined) {
      issues.push({ field: "restamp", message: "re-stamps bars for a change of barTimestamp; the change names none" });
    }
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return interval as RestampInterval | undefined;
}

/** How far each bar moves when the stamping goes from `from` to `to` with bars of `interval`. */
export function restampOf(interval: RestampInterval, from: BarTimestamp, to: BarTimestamp): Restamp {
  const ms = INTERVAL_SPECS[interval].ms;
  return { interval, shiftMs: from === to ? 0 : to === "end" ? ms : -ms };
}

/**
 * A re-stamp moves every key of market_data at once, and a key may not equal another row's
 * while the statement runs (SQLite and PostgreSQL check a primary key row by row). So the bars
 * move in two statements: first past every valid timestamp, by this offset plus the shift
 * (beyond MAX_TIMESTAMP, where no row is), then back by the offset. Both stay well inside 2^53.
 */
export const RESTAMP_PARKING_OFFSET = 1e15;

/**
 * Checks that the stored bars' range still holds valid timestamps after the shift: the refusal
 * names the bar that would leave it (nothing is moved).
 */
export function restampRangeIssues(first: number | null, last: number | null, restamp: Restamp): Issue[] {
  if (first === null || last === null) return [];
  const issues: Issue[] = [];
  if (first + restamp.shiftMs < MIN_TIMESTAMP) issues.push({ field: "restamp", message: `the bar at ${first} would move before the earliest storable timestamp` });
  if (last + restamp.shiftMs > MAX_TIMESTAMP) issues.push({ field: "restamp", message: `the bar at ${last} would move past the latest storable timestamp` });
  return issues;
}

/** The audit details of a stamping change that re-stamped bars. */
export function restampDetails(change: SettingChange, restamp: Restamp, bars: number): JsonValue {
  return { from: change.from, to: change.to, restamped: { interval: restamp.interval, shiftMs: restamp.shiftMs, bars } };
}

/**
 * What a bar repository reads: the live settings (still read at each call, so a change applies
 * to the next one) and the calendar lookup session-aligned reads and completeness ask.
 */
export function withCalendars(
  live: Readonly<StoreSettings> & { readonly allowSecondsLikeTimestamps: boolean },
  calendarOf: (symbol: string) => Calendar | null,
) {
  return {
    get timezone() {
      return live.timezone;
    },
    get barTimestamp() {
      return live.barTimestamp;
    },
    get allowSecondsLikeTimestamps() {
      return live.allowSecondsLikeTimestamps;
    },
    calendarOf,
  };
}
