/**
 * A bar file's header read into a map of columns, by profile (profiles.ts), and the readers of
 * one row's fields: its time, its values in shares and yuan, its symbol.
 *
 * The common spellings (case and surrounding space ignored):
 *   time     `datetime`, `timestamp` (a full date and time), or `date` / `trade_date` / 日期 with
 *            `time` / 时间 (a time of day), or `time` alone (a full date and time), or a date
 *            alone (daily bars, stamped at local midnight)
 *   prices   `open` 开盘, `high` 最高, `low` 最低, `close` 收盘 (also 开盘价 ...)
 *   sizes    `volume` / `vol` 成交量, `amount` / `turnover` 成交额 (optional)
 * A profile adds its vendor's names (ts_code, money, total_turnover ...) before these. A spelling
 * seen twice (TDX writes `datetime` twice) is read from its first column; when two spellings of
 * one field are present (`volume` and `vol`), the first in the list is read. Other columns are
 * ignored, and named as such in the summary.
 *
 * Values: dates `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYYMMDD`; times `H:MM[:SS]` or `HHMM[SS]`; full
 * timestamps as ISO-8601 with an offset, naive `YYYY-MM-DD H:MM[:SS]` (any of the date forms),
 * `YYYYMMDDHHMM[SS]`, `YYYYMMDDHHMMSSsss` (baostock), or 13-digit epoch milliseconds. Naive
 * times are read in the import's zone. The `cache` profile reads ISO-8601 (as the domain does)
 * and epoch milliseconds, nothing else. Numbers are plain decimals; an empty cell is NULL.
 */
import type { BarValueField } from "../domain/bar.ts";
import { NUMBER } from "../domain/bar-format.ts";
import { ValidationError } from "../domain/errors.ts";
import { TimestampError, toEpochMs } from "../domain/time.ts";
import {
  AMOUNT_EXPONENT, COMMON_SPELLINGS, describeProfiles, detectProfile, profileNamed, VOLUME_EXPONENT,
  type AmountUnit, type ProfileName, type Role, type VolumeUnit,
} from "./profiles.ts";

export type TimeColumns =
  | { kind: "datetime"; column: number }
  | { kind: "date-time"; date: number; time: number }
  | { kind: "date"; column: number };

/** Which column holds what, as read from a header, and how its values are read. */
export interface HeaderMap {
  profile: ProfileName;
  fields: number;
  time: TimeColumns;
  values: Record<BarValueField, number | null>;
  /** The column naming each row's symbol (a vendor's code column), or null. */
  code: number | null;
  /** baostock's adjustflag column, or null. */
  adjustflag: number | null;
  /** The units the sizes are read in (each becomes shares or yuan). */
  units: { volume: VolumeUnit; amount: AmountUnit };
  /** Conversions applied, for the summary ("vol: lots (手) x 100 -> shares"). */
  conversions: string[];
  /** Units taken without the header saying them, and how to say otherwise. */
  assumed: string[];
  /** Header names read for nothing. */
  ignored: string[];
}

/** A file whose header or bytes cannot be read at all (not a row's fault). */
export class BarFileError extends ValidationError {
  constructor(message: string, line?: number) {
    super([{ ...(line === undefined ? {} : { row: line }), field: "file", message }], message);
  }
}

export interface HeaderOptions {
  /** The profile to read with; omitted, the one the header matches. */
  profile?: ProfileName;
  /** The unit of the volume column, over the profile's. */
  volumeUnit?: VolumeUnit;
  /** The unit of the amount column, over the profile's. */
  amountUnit?: AmountUnit;
}

const VALUE_ROLES = ["open", "high", "low", "close", "volume", "amount"] as const;

/** Reads a header row into a HeaderMap, or throws a BarFileError naming what is missing. */
export function mapHeader(names: readonly string[], options: HeaderOptions = {}): HeaderMap {
  const normal = names.map((name, i) => (i === 0 ? name.replace(/^\uFEFF/, "") : name).trim().toLowerCase());
  const profile = options.profile ? profileNamed(options.profile) : detectProfile(normal);
  if (options.profile && !profile.matches(normal) && profile.name !== "tdx") {
    throw new BarFileError(`the header is not a ${profile.name} file's: it needs ${profile.needs}; it has ${describeNames(names)}`, 1);
  }
  const used = new Set<number>();
  const find = (role: Role): number | null => {
    const spellings = [...(profile.spellings[role] ?? []), ...(profile.name === "cache" || role === "code" || role === "adjustflag" ? [] : COMMON_SPELLINGS[role])];
    for (const spelling of spellings) {
      const index = normal.indexOf(spelling);
      if (index >= 0 && !used.has(index)) {
        used.add(index);
        return index;
      }
    }
    return null;
  };
  const time = readTimeColumns(find, profile.timeIsDatetime === true, profile.unnamedTime === true && normal[0] === "" ? 0 : null, names, used);
  if (profile.name === "cache" && time.kind !== "datetime") throw new BarFileError(`the header has no timestamp column; it has ${describeNames(names)}`, 1);
  const values = {} as Record<BarValueField, number | null>;
  const missing: string[] = [];
  for (const role of VALUE_ROLES) {
    values[role] = find(role);
    if (values[role] === null && ((role !== "volume" && role !== "amount") || profile.name === "cache")) {
      missing.push([...new Set([...(profile.spellings[role] ?? []), ...(profile.name === "cache" ? [] : COMMON_SPELLINGS[role])])].join("/"));
    }
  }
  if (missing.length > 0) throw new BarFileError(`the header has no ${missing.join(", ")} column; it has ${describeNames(names)}. The profiles: ${describeProfiles()}`, 1);
  const code = find("code");
  const adjustflag = find("adjustflag");
  const ignored = names.filter((_, i) => !used.has(i)).map((name) => name.trim() || "(unnamed)");
  if (profile.name === "cache" && ignored.length > 0) throw new BarFileError(`the header names a column twice: ${ignored.join(", ")}`, 1);

  const said = profile.units(normal);
  const units = { volume: options.volumeUnit ?? said.volume, amount: options.amountUnit ?? said.amount };
  const conversions: string[] = [];
  const assumed: string[] = [];
  const volumeName = values.volume === null ? null : names[values.volume]!.trim();
  const amountName = values.amount === null ? null : names[values.amount]!.trim();
  if (volumeName !== null && units.volume === "lots") conversions.push(`${volumeName}: lots (手) x 100 -> shares`);
  if (amountName !== null && units.amount === "thousands") conversions.push(`${amountName}: thousands of yuan (千元) x 1000 -> yuan`);
  if (!said.said) {
    if (volumeName !== null && options.volumeUnit === undefined) assumed.push(`${volumeName} read as shares (the header does not say; --volume-unit lots if it is in 手)`);
    if (amountName !== null && options.amountUnit === undefined) assumed.push(`${amountName} read as yuan (the header does not say; --amount-unit thousands if it is in 千元)`);
  }
  return { profile: profile.name, fields: names.length, time, values, code, adjustflag, units, conversions, assumed, ignored };
}

function readTimeColumns(find: (role: Role) => number | null, timeIsDatetime: boolean, unnamed: number | null, names: readonly string[], used: Set<number>): TimeColumns {
  const datetime = find("datetime");
  const date = find("date");
  const time = find("time");
  let columns: TimeColumns;
  if (datetime !== null) columns = { kind: "datetime", column: datetime };
  else if (time !== null && timeIsDatetime) columns = { kind: "datetime", column: time };
  else if (date !== null && time !== null) columns = { kind: "date-time", date, time };
  else if (time !== null) columns = { kind: "datetime", column: time };
  else if (date !== null) columns = { kind: "date", column: date };
  else if (unnamed !== null) {
    used.add(unnamed);
    columns = { kind: "datetime", column: unnamed };
  } else {
    throw new BarFileError(`the header has no time column (one of datetime, timestamp, date, trade_date, time, 日期, 时间); it has ${describeNames(names)}. The profiles: ${describeProfiles()}`, 1);
  }
  // A date or time column the chosen reading does not use is not silently ignored either way:
  // `datetime` wins over `date` + `time`, and the summary names the unused ones.
  if (columns.kind === "datetime") {
    if (date !== null && !timeIsDatetime) used.delete(date);
    if (time !== null && columns.column !== time) used.delete(time);
  }
  return columns;
}

function describeNames(names: readonly string[]): string {
  const shown = names.slice(0, 20).map((name) => JSON.stringify(name.slice(0, 30)));
  return `${shown.join(", ")}${names.length > 20 ? ", ..." : ""}`;
}

const DATE = /^(\d{4})(?:-(\d{2})-(\d{2})|\/(\d{2})\/(\d{2})|(\d{2})(\d{2}))$/;
const TIME = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$|^(\d{2})(\d{2})(\d{2})?$/;
const EPOCH_MS = /^\d{13}$/;
/** `YYYYMMDDHHMM[SS[sss]]`, as terminals (and baostock, with milliseconds) write a bar's time. */
const COMPACT_DATETIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(?:(\d{2})(\d{3})?)?$/;

/** `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYYMMDD` as `YYYY-MM-DD`; null when none of them. */
function isoDate(text: string): string | null {
  const m = DATE.exec(text);
  if (!m) return null;
  return `${m[1]}-${m[2] ?? m[4] ?? m[6]}-${m[3] ?? m[5] ?? m[7]}`;
}

/** `H:MM[:SS]` or `HHMM[SS]` as `HH:MM:SS`; null when neither. */
function isoTime(text: string): string | null {
  const m = TIME.exec(text);
  if (!m) return null;
  const hours = (m[1] ?? m[4])!.padStart(2, "0");
  return `${hours}:${m[2] ?? m[5]}:${m[3] ?? m[6] ?? "00"}`;
}

/** One row's timestamp, or throws a TimestampError saying why not. */
export function readTime(fields: readonly string[], header: HeaderMap, timeZone: string): number {
  const time = header.time;
  if (time.kind === "date-time") {
    const dateText = fields[time.date]!.trim();
    const timeText = fields[time.time]!.trim();
    const date = isoDate(dateText);
    if (date === null) throw new TimestampError(`not a date: ${JSON.stringify(dateText.slice(0, 40))} (expected YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)`);
    const clock = isoTime(timeText);
    if (clock === null) throw new TimestampError(`not a time of day: ${JSON.stringify(timeText.slice(0, 40))} (expected HH:MM[:SS] or HHMM[SS])`);
    return toEpochMs(`${date} ${clock}`, timeZone);
  }
  const text = fields[time.column]!.trim();
  if (EPOCH_MS.test(text)) return toEpochMs(Number(text), timeZone);
  if (header.profile === "cache") return toEpochMs(text, timeZone);
  if (time.kind === "date") {
    const date = isoDate(text);
    if (date === null) throw new TimestampError(`not a date: ${JSON.stringify(text.slice(0, 40))} (expected YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)`);
    return toEpochMs(date, timeZone);
  }
  const compact = COMPACT_DATETIME.exec(text);
  if (compact) return toEpochMs(`${compact[1]}-${compact[2]}-${compact[3]} ${compact[4]}:${compact[5]}:${compact[6] ?? "00"}${compact[7] ? `.${compact[7]}` : ""}`, timeZone);
  // A date in one of the accepted forms and a time of day (H:MM allowed), or the text as the
  // domain reads it (ISO-8601 with an offset, fractions of a second).
  const split = /^(\S+) (\S+)$/.exec(text);
  const date = split ? isoDate(split[1]!) : null;
  const clock = split ? isoTime(split[2]!) : null;
  if (date !== null && clock !== null) return toEpochMs(`${date} ${clock}`, timeZone);
  const iso = /^(\S+)([ T].*)$/.exec(text);
  const isoDay = iso ? isoDate(iso[1]!) : null;
  return toEpochMs(isoDay === null ? text : `${isoDay}${iso![2]}`, timeZone);
}

/**
 * A row's six values in shares and yuan (null for an empty cell) into `out`; the reason the
 * first one cannot be read, or null. A size in lots or thousands is scaled in decimal (the
 * text's exponent moved), so 670442.85 lots are exactly 67044285 shares.
 */
export function readValues(fields: readonly string[], header: HeaderMap, out: (number | null)[]): string | null {
  for (let i = 0; i < VALUE_ROLES.length; i++) {
    const role = VALUE_ROLES[i]!;
    const column = header.values[role];
    const text = column === null ? "" : fields[column]!.trim();
    if (text === "") {
      out[i] = null;
      continue;
    }
    if (!NUMBER.test(text)) return `${role}: not a number: ${JSON.stringify(text.slice(0, 40))}`;
    const exponent = role === "volume" ? VOLUME_EXPONENT[header.units.volume] : role === "amount" ? AMOUNT_EXPONENT[header.units.amount] : 0;
    out[i] = exponent === 0 ? Number(text) : scaled(text, exponent);
  }
  return null;
}

/** `text` (a NUMBER) times 10^exponent, rounded once from the exact decimal. */
function scaled(text: string, exponent: number): number {
  const e = text.search(/e/i);
  return e < 0 ? Number(`${text}e${exponent}`) : Number(`${text.slice(0, e)}e${Number(text.slice(e + 1)) + exponent}`);
}
