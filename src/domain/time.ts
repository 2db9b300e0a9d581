/**
 * Time, defined once: what a timestamp input may be, how naive wall-clock times are read in a
 * time zone, and the zone's UTC offsets over a range (for bucketing bars by local day or hour).
 *
 * Everything is epoch milliseconds UTC inside tradelite. Zone rules come from the runtime's
 * Intl data (ICU), so there is no time-zone table to keep up to date here.
 */
import { ValidationError } from "./errors.ts";

/** What callers may pass wherever a timestamp is expected. */
export type TimestampInput = number | Date | string;

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/**
 * The accepted range, 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z: the years ISO-8601
 * writes with four digits, so every stored timestamp prints back in the form CSV files carry,
 * and the zone rules (ICU) have an answer for every instant in it. Also the open ends of a range query.
 */
export const MIN_TIMESTAMP = -62_135_596_800_000;
export const MAX_TIMESTAMP = 253_402_300_799_999;

/**
 * Numbers from 1e8 to 1e11 read as epoch ms fall between 1970-01-02 and 1973-03-03; read as epoch
 * seconds they are 1973-2286, where every real bar is. A number in this range is nearly always
 * seconds given where milliseconds belong, so it is refused unless the store opts in.
 */
export const SECONDS_LIKE_MIN = 1e8;
export const SECONDS_LIKE_MAX = 1e11;

/**
 * How a store reads timestamp inputs: the zone of naive times and whether numbers that look like
 * epoch seconds are accepted as milliseconds. A bare zone name reads strictly (they are refused).
 */
export type TimeReading = string | ZoneReading;

/** A store's reading of timestamps (its live settings object: read at each call). */
export interface ZoneReading {
  readonly timezone: string;
  readonly allowSecondsLikeTimestamps?: boolean;
}

export function zoneOf(reading: TimeReading): string {
  return typeof reading === "string" ? reading : reading.timezone;
}

export function allowsSecondsLike(reading: TimeReading): boolean {
  return typeof reading !== "string" && reading.allowSecondsLikeTimestamps === true;
}

/** True for a whole number in the range epoch seconds of 1973-2286 fall in. */
export function isSecondsLike(value: number): boolean {
  return value >= SECONDS_LIKE_MIN && value < SECONDS_LIKE_MAX;
}

/**
 * A timestamp input that cannot be read: a ValidationError with one issue on `timestamp`.
 * Batch validators catch it and report the reason with the row and field it came from.
 */
export class TimestampError extends ValidationError {
  readonly reason: string;
  constructor(reason: string) {
    super([{ field: "timestamp", message: reason }], reason);
    this.reason = reason;
  }
}

// ISO-8601 with an explicit offset (or Z): 2024-01-15T09:31:00+08:00, 2024-01-15 09:31Z.
const ISO_WITH_OFFSET =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})$/i;
// Naive wall-clock time, read in the store's time zone: 2024-01-15, 2024-01-15 09:31[:00[.000]].
const NAIVE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?$/;

/**
 * Reads one timestamp input as epoch milliseconds UTC, or throws a TimestampError saying why.
 * Numbers are epoch ms and must be whole (no silent rounding), and not in the range that epoch
 * seconds fall in unless `reading` allows it; strings are ISO-8601 with an offset, or naive
 * `YYYY-MM-DD[ HH:MM[:SS[.sss]]]` read in the reading's zone.
 */
export function toEpochMs(value: unknown, reading: TimeReading): number {
  const timeZone = zoneOf(reading);
  if (typeof value === "number") {
    if (!Number.isInteger(value)) {
      throw new TimestampError(
        Number.isFinite(value)
          ? `epoch milliseconds must be a whole number, got ${value}`
          : `expected epoch milliseconds, got ${value}`,
      );
    }
    if (value < MIN_TIMESTAMP || value > MAX_TIMESTAMP) {
      throw new TimestampError(`epoch milliseconds out of range (years 0001-9999): ${value}`);
    }
    if (isSecondsLike(value) && !allowsSecondsLike(reading)) throw new TimestampError(secondsLikeReason(value));
    return value;
  }
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw new TimestampError("invalid Date");
    if (ms < MIN_TIMESTAMP || ms > MAX_TIMESTAMP) {
      throw new TimestampError(`Date out of range (years 0001-9999): ${value.toISOString()}`);
    }
    return ms;
  }
  if (typeof value === "string") return parseTimestampString(value, timeZone);
  throw new TimestampError(
    `expected epoch ms, a Date or an ISO-8601 string, got ${value === null ? "null" : typeof value}`,
  );
}

/** Why a seconds-like number is refused, and what to do. */
export function secondsLikeReason(value: number): string {
  return (
    `${value} looks like epoch seconds (${new Date(value * 1000).toISOString()}), not milliseconds ` +
    `(${new Date(value).toISOString()}): multiply by 1000, or open the store with allowSecondsLikeTimestamps`
  );
}

/** Which end of an inclusive range a bound is. */
export type RangeSide = "start" | "end";

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const COMPACT_DATE = /^(\d{4})(\d{2})(\d{2})$/;
/** Digits as text (a query string, a command line): epoch ms, unless exactly 8 (a compact date). */
const EPOCH_DIGITS = /^-?\d{1,16}$/;

/**
 * The one date rule, for every range bound (library, API, CLI): a date alone, `2024-01-15` or
 * `20240115`, is a calendar day in the reading's zone; as `start` it is the day's first
 * instant, as `end` the whole day is included (the last ms before the next local midnight).
 * Other digits as text are epoch ms (what a query string or a command line carries); anything
 * else is a timestamp as toEpochMs reads it (a number is epoch ms, never a date).
 */
export function toRangeBound(value: unknown, side: RangeSide, reading: TimeReading): number {
  if (typeof value === "string") {
    const m = DATE_ONLY.exec(value) ?? COMPACT_DATE.exec(value);
    if (m) {
      const timeZone = zoneOf(reading);
      const midnight = wallClockMs(value, m);
      const first = checkRange(startOfLocalDay(midnight, timeZone), value);
      if (side === "start") return first;
      // 9999-12-31 in a zone west of UTC ends after the last storable instant: the open end.
      return Math.min(MAX_TIMESTAMP, startOfLocalDay(midnight + DAY_MS, timeZone) - 1);
    }
    if (EPOCH_DIGITS.test(value)) return toEpochMs(Number(value), reading);
  }
  return toEpochMs(value, reading);
}

function parseTimestampString(text: string, timeZone: string): number {
  let m = ISO_WITH_OFFSET.exec(text);
  if (m) {
    const wall = wallClockMs(text, m);
    const offset = m[8]!;
    if (offset === "Z" || offset === "z") return checkRange(wall, text);
    const sign = offset[0] === "-" ? -1 : 1;
    const digits = offset.slice(1).replace(":", "");
    const hours = Number(digits.slice(0, 2));
    const minutes = Number(digits.slice(2, 4));
    if (hours > 23 || minutes > 59) throw new TimestampError(`invalid UTC offset in "${text}"`);
    return checkRange(wall - sign * (hours * HOUR_MS + minutes * MINUTE_MS), text);
  }
  m = NAIVE.exec(text);
  if (m) return checkRange(wallTimeToUtc(wallClockMs(text, m), timeZone, text), text);
  throw new TimestampError(
    `"${truncate(text)}" is not a timestamp: expected ISO-8601 with an offset ` +
      `(2024-01-15T09:31:00+08:00) or YYYY-MM-DD[ HH:MM[:SS]]`,
  );
}

/** The wall-clock fields of a regex match as if they were UTC, after checking each field's range. */
function wallClockMs(text: string, m: RegExpExecArray): number {
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = m[4] === undefined ? 0 : Number(m[4]);
  const minute = m[5] === undefined ? 0 : Number(m[5]);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const fraction = m[7] ?? "";
  if (month < 1 || month > 12) throw new TimestampError(`invalid month in "${text}"`);
  if (day < 1 || day > daysInMonth(year, month)) throw new TimestampError(`invalid day in "${text}"`);
  if (hour > 23) throw new TimestampError(`invalid hour in "${text}"`);
  if (minute > 59) throw new TimestampError(`invalid minute in "${text}"`);
  if (second > 59) throw new TimestampError(`invalid second in "${text}"`);
  // Millisecond precision is what the store keeps; refuse to drop finer digits silently.
  if (fraction.length > 3 && /[^0]/.test(fraction.slice(3))) {
    throw new TimestampError(`sub-millisecond precision is not stored: "${text}"`);
  }
  const millis = Number(fraction.slice(0, 3).padEnd(3, "0"));
  // Not Date.UTC: it maps years 0-99 to 1900-1999, where 29 February may not exist.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.setUTCHours(hour, minute, second, millis);
}

function checkRange(ms: number, text: string): number {
  if (!(ms >= MIN_TIMESTAMP && ms <= MAX_TIMESTAMP)) throw new TimestampError(`out of range (years 0001-9999): "${text}"`);
  return ms;
}

function daysInMonth(year: number, month: number): number {
  // The Gregorian calendar repeats every 400 years; map into 2000-2399 to dodge Date.UTC's
  // two-digit-year rule.
  const equivalentYear = 2000 + (((year % 400) + 400) % 400);
  return new Date(Date.UTC(equivalentYear, month, 0)).getUTCDate();
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

// ---------------------------------------------------------------------------------------------
// Time zones

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Throws a ValidationError unless `timeZone` is an IANA zone name the runtime knows. */
export function assertTimeZone(timeZone: unknown, field = "timezone"): string {
  if (typeof timeZone !== "string" || timeZone.length === 0) {
    throw new ValidationError([{ field, message: "expected an IANA time zone name such as Asia/Shanghai" }]);
  }
  try {
    formatterFor(timeZone);
  } catch {
    throw new ValidationError([{ field, message: `unknown time zone "${truncate(timeZone)}"` }]);
  }
  return timeZone;
}

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      era: "short",
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

function isUtc(timeZone: string): boolean {
  return timeZone === "UTC" || timeZone === "Etc/UTC" || timeZone === "GMT" || timeZone === "Etc/GMT";
}

/** The zone's offset from UTC at instant `utcMs`, in ms (Asia/Shanghai: +28,800,000). */
export function offsetAt(timeZone: string, utcMs: number): number {
  if (isUtc(timeZone)) return 0;
  // Offsets are whole seconds in modern data; work on the second so the millisecond part cancels.
  const base = Math.floor(utcMs / 1000) * 1000;
  let year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0, bc = false;
  for (const part of formatterFor(timeZone).formatToParts(base)) {
    switch (part.type) {
      case "year": year = Number(part.value); break;
      case "month": month = Number(part.value); break;
      case "day": day = Number(part.value); break;
      case "hour": hour = Number(part.value); break;
      case "minute": minute = Number(part.value); break;
      case "second": second = Number(part.value); break;
      case "era": bc = part.value === "BC" || part.value === "B"; break;
    }
  }
  const fullYear = bc ? 1 - year : year;
  const wall = new Date(Date.UTC(2000, month - 1, day, hour, minute, second)).setUTCFullYear(fullYear);
  return wall - base;
}

/**
 * The UTC instant of a wall-clock time in `timeZone` (`wallMs` is the wall clock written as if
 * it were UTC). A time that falls in a daylight-saving gap does not exist and is refused; a time
 * that occurs twice (the hour repeated when clocks go back) is read as its first occurrence,
 * which is what Temporal's default "compatible" disambiguation does.
 */
export function wallTimeToUtc(wallMs: number, timeZone: string, text?: string): number {
  if (isUtc(timeZone)) return wallMs;
  const before = cachedOffsetAt(timeZone, wallMs - DAY_MS);
  const after = cachedOffsetAt(timeZone, wallMs + DAY_MS);
  let best: number | undefined;
  for (const offset of before === after ? [before] : [before, after]) {
    const candidate = wallMs - offset;
    if (cachedOffsetAt(timeZone, candidate) === offset && (best === undefined || candidate < best)) best = candidate;
  }
  if (best === undefined) {
    throw new TimestampError(
      `${text ? `"${text}"` : "wall-clock time"} does not exist in ${timeZone} (daylight-saving gap)`,
    );
  }
  return best;
}

/**
 * The first instant of the local calendar day that starts at wall-clock `wallMs` (a midnight).
 * Where clocks jump forward at midnight (America/Santiago, Africa/Cairo some years) 00:00 does
 * not exist and the day starts when the jump ends, as Temporal's startOfDay does.
 */
export function startOfLocalDay(wallMs: number, timeZone: string): number {
  if (isUtc(timeZone)) return wallMs;
  try {
    return wallTimeToUtc(wallMs, timeZone);
  } catch (error) {
    if (!(error instanceof TimestampError)) throw error;
    // In a gap: read with the offset in force before it, the wall time lands on the instant
    // the gap ends.
    return wallMs - cachedOffsetAt(timeZone, wallMs - DAY_MS);
  }
}

/** A zone's offsets within one UTC year: offsets[i] applies from starts[i] on. */
interface ZoneYear {
  starts: number[];
  offsets: number[];
}

const zoneYears = new Map<string, ZoneYear>();

/**
 * offsetAt through a per-zone, per-year table of transitions, so reading a million naive
 * timestamps costs a table lookup each instead of an Intl call.
 */
function cachedOffsetAt(timeZone: string, utcMs: number): number {
  return offsetSpanAt(timeZone, utcMs).offset;
}

function zoneYear(timeZone: string, year: number): ZoneYear {
  const key = `${timeZone}\u0000${year}`;
  let table = zoneYears.get(key);
  if (!table) {
    const starts = [yearStart(year), ...transitionsInYear(timeZone, year)];
    table = { starts, offsets: starts.map((start) => offsetAt(timeZone, start)) };
    zoneYears.set(key, table);
  }
  return table;
}

/** A stretch of time [start, end) over which a zone keeps one UTC offset. */
export interface OffsetSpan {
  start: number;
  end: number;
  offset: number;
}

const transitionCache = new Map<string, number[]>();

/** The zone's offset changes within UTC year `year`, as UTC instants where a new offset begins. */
function transitionsInYear(timeZone: string, year: number): number[] {
  const key = `${timeZone}\u0000${year}`;
  let found = transitionCache.get(key);
  if (found) return found;
  found = [];
  // Sample daily: zones change offset at most a few times a year, never twice within a day.
  let previousTime = yearStart(year);
  let previousOffset = offsetAt(timeZone, previousTime);
  const yearEnd = yearStart(year + 1);
  for (let t = previousTime + DAY_MS; t <= yearEnd; t += DAY_MS) {
    const offset = offsetAt(timeZone, t);
    if (offset !== previousOffset) {
      // Binary search to the second on which the new offset starts.
      let lo = previousTime;
      let hi = t;
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (offsetAt(timeZone, mid) === previousOffset) lo = mid;
        else hi = mid;
      }
      found.push(hi);
    }
    previousTime = t;
    previousOffset = offset;
  }
  transitionCache.set(key, found);
  return found;
}

/** The spans of constant offset that cover [start, end] (inclusive), in order. */
export function offsetSpans(timeZone: string, start: number, end: number): OffsetSpan[] {
  if (isUtc(timeZone)) return [{ start, end: end + 1, offset: 0 }];
  const spans: OffsetSpan[] = [];
  let spanStart = start;
  const firstYear = new Date(start).getUTCFullYear();
  const lastYear = new Date(end).getUTCFullYear();
  for (let year = firstYear; year <= lastYear; year++) {
    for (const transition of transitionsInYear(timeZone, year)) {
      if (transition <= spanStart || transition > end) continue;
      spans.push({ start: spanStart, end: transition, offset: offsetAt(timeZone, spanStart) });
      spanStart = transition;
    }
  }
  spans.push({ start: spanStart, end: end + 1, offset: offsetAt(timeZone, spanStart) });
  return spans;
}

/**
 * The span of constant offset that holds `instant`, cut at UTC year boundaries so that finding
 * it costs one year of zone rules. Callers walking sparse data jump from span to the next
 * instant that has data, never through empty years.
 */
export function offsetSpanAt(timeZone: string, instant: number): OffsetSpan {
  if (isUtc(timeZone)) return { start: MIN_TIMESTAMP, end: MAX_TIMESTAMP + 1, offset: 0 };
  const year = new Date(instant).getUTCFullYear();
  const table = zoneYear(timeZone, year);
  let i = table.starts.length - 1;
  while (i > 0 && table.starts[i]! > instant) i--;
  const end = i + 1 < table.starts.length ? table.starts[i + 1]! : yearStart(year + 1);
  return { start: table.starts[i]!, end, offset: table.offsets[i]! };
}

/** 00:00 UTC on 1 January of `year`; unlike Date.UTC, right for years 0-99 too. */
function yearStart(year: number): number {
  return new Date(0).setUTCFullYear(year, 0, 1);
}

/** ISO-8601 UTC with milliseconds, the form CSV files carry. */
export function formatIsoUtc(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * ISO-8601 wall-clock time in `timeZone` with its offset written out, the form people read:
 * `2024-01-15T09:31:00+08:00` (milliseconds only when there are some). Reads back to the same
 * instant through toEpochMs.
 */
export function formatIsoLocal(ms: number, timeZone: string): string {
  const offset = isUtc(timeZone) ? 0 : cachedOffsetAt(timeZone, ms);
  const wall = new Date(ms + offset).toISOString();
  const body = wall.endsWith(".000Z") ? wall.slice(0, 19) : wall.slice(0, 23);
  const total = Math.abs(offset) / 1000;
  const pad = (n: number) => String(Math.floor(n)).padStart(2, "0");
  // Zones before 1900 ran on local mean time (Asia/Shanghai: +08:05:43); the seconds are kept.
  const seconds = total % 60 === 0 ? "" : `:${pad(total % 60)}`;
  return `${body}${offset < 0 ? "-" : "+"}${pad(total / 3600)}:${pad((total % 3600) / 60)}${seconds}`;
}
