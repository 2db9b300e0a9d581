import { describe, expect, test } from "bun:test";
import { ValidationError } from "../../src/domain/errors.ts";
import {
  assertTimeZone,
  DAY_MS,
  formatIsoLocal,
  formatIsoUtc,
  HOUR_MS,
  MAX_TIMESTAMP,
  MIN_TIMESTAMP,
  MINUTE_MS,
  offsetAt,
  offsetSpans,
  TimestampError,
  toEpochMs,
  toRangeBound,
  wallTimeToUtc,
} from "../../src/domain/time.ts";
import {
  formatOffset,
  issuesOf,
  pick,
  randomInt,
  seededRandom,
  thrownBy,
  timestampErrorOf,
} from "../support/domain-fixtures.ts";

// Independent oracles for the zone rules tested below, written from the rules themselves rather
// than from Intl: the US rule since 2007 (second Sunday of March 02:00 EST to first Sunday of
// November 02:00 EDT) and the EU rule since 1996 (last Sunday of March to last Sunday of October,
// both at 01:00 UTC).
function nthSunday(year: number, monthIndex: number, n: number): number {
  const firstWeekday = new Date(Date.UTC(year, monthIndex, 1)).getUTCDay();
  return 1 + ((7 - firstWeekday) % 7) + 7 * (n - 1);
}

function lastSunday(year: number, monthIndex: number): number {
  const lastDay = new Date(Date.UTC(year, monthIndex + 1, 0));
  return lastDay.getUTCDate() - lastDay.getUTCDay();
}

function newYorkOffset(utcMs: number): number {
  const year = new Date(utcMs).getUTCFullYear();
  const dstStart = Date.UTC(year, 2, nthSunday(year, 2, 2), 7);
  const dstEnd = Date.UTC(year, 10, nthSunday(year, 10, 1), 6);
  return utcMs >= dstStart && utcMs < dstEnd ? -4 * HOUR_MS : -5 * HOUR_MS;
}

function londonOffset(utcMs: number): number {
  const year = new Date(utcMs).getUTCFullYear();
  const bstStart = Date.UTC(year, 2, lastSunday(year, 2), 1);
  const bstEnd = Date.UTC(year, 9, lastSunday(year, 9), 1);
  return utcMs >= bstStart && utcMs < bstEnd ? HOUR_MS : 0;
}

const JAN_15_2024_0931_UTC = Date.UTC(2024, 0, 15, 9, 31);

describe("toEpochMs: numbers are epoch milliseconds", () => {
  test.each([0, 1, -1, JAN_15_2024_0931_UTC, MIN_TIMESTAMP, MAX_TIMESTAMP])("whole number %p is returned unchanged", (ms) => {
    expect(toEpochMs(ms, "UTC")).toBe(ms);
  });

  test("the time zone does not change an epoch number", () => {
    expect(toEpochMs(JAN_15_2024_0931_UTC, "Asia/Shanghai")).toBe(JAN_15_2024_0931_UTC);
  });

  test.each([1.5, 0.1, JAN_15_2024_0931_UTC + 0.5, -0.25])("fractional milliseconds %p are rejected, not rounded", (ms) => {
    expect(timestampErrorOf(() => toEpochMs(ms, "UTC")).message).toContain("whole number");
  });

  test.each([NaN, Infinity, -Infinity])("%p is rejected", (ms) => {
    timestampErrorOf(() => toEpochMs(ms, "UTC"));
  });

  test.each([MAX_TIMESTAMP + 1, MIN_TIMESTAMP - 1, 1e16, -1e16, Number.MAX_SAFE_INTEGER])(
    "%p, outside the range a Date can hold, is rejected",
    (ms) => {
      expect(timestampErrorOf(() => toEpochMs(ms, "UTC")).message).toContain("out of range");
    },
  );
});

describe("toEpochMs: numbers that look like epoch seconds", () => {
  test.each([1e8, 1_705_282_260, 1e11 - 1])("%p is refused, saying multiply by 1000", (value) => {
    const error = timestampErrorOf(() => toEpochMs(value, "UTC"));
    expect(error.message).toContain("multiply by 1000");
    expect(error.message).toContain("allowSecondsLikeTimestamps");
  });

  test.each([1e8 - 1, 1e11, -1e9])("%p is outside the range and stays epoch ms", (value) => {
    expect(toEpochMs(value, "UTC")).toBe(value);
  });

  test("a reading that allows them returns them as the epoch ms they are; a bare zone name never does", () => {
    expect(toEpochMs(1_705_282_260, { timezone: "UTC", allowSecondsLikeTimestamps: true })).toBe(1_705_282_260);
    timestampErrorOf(() => toEpochMs(1_705_282_260, { timezone: "UTC" }));
  });
});

describe("toRangeBound: the one date rule", () => {
  test.each([
    ["2024-01-15", "Asia/Shanghai", Date.UTC(2024, 0, 14, 16), Date.UTC(2024, 0, 15, 16) - 1],
    ["20240115", "Asia/Shanghai", Date.UTC(2024, 0, 14, 16), Date.UTC(2024, 0, 15, 16) - 1],
    ["2024-03-10", "America/New_York", Date.UTC(2024, 2, 10, 5), Date.UTC(2024, 2, 11, 4) - 1],
    ["20241103", "America/New_York", Date.UTC(2024, 10, 3, 4), Date.UTC(2024, 10, 4, 5) - 1],
    ["2024-01-15", "UTC", Date.UTC(2024, 0, 15), Date.UTC(2024, 0, 16) - 1],
    // Santiago's clocks jump from 00:00 to 01:00 on 8 September 2024: the day starts at 01:00.
    ["2024-09-08", "America/Santiago", Date.UTC(2024, 8, 8, 4), Date.UTC(2024, 8, 9, 3) - 1],
  ])("%p in %p: start is the day's first instant, end its last ms", (text, zone, start, end) => {
    expect(toRangeBound(text, "start", zone)).toBe(start);
    expect(toRangeBound(text, "end", zone)).toBe(end);
  });

  test("other digits as text are epoch ms (seconds-like ones refused); numbers are never dates", () => {
    expect(toRangeBound("1705282260000", "start", "UTC")).toBe(1_705_282_260_000);
    expect(toRangeBound("-5", "end", "UTC")).toBe(-5);
    expect(toRangeBound(20240115, "start", "Asia/Shanghai")).toBe(20_240_115);
    expect(timestampErrorOf(() => toRangeBound("1705282260", "start", "UTC")).message).toContain("multiply by 1000");
  });

  test("anything else is read as toEpochMs reads it, with a time of day as given", () => {
    expect(toRangeBound("2024-01-15 09:31", "end", "Asia/Shanghai")).toBe(Date.UTC(2024, 0, 15, 1, 31));
    expect(toRangeBound("2024-01-15T00:00:00Z", "end", "Asia/Shanghai")).toBe(Date.UTC(2024, 0, 15));
  });

  test("impossible dates are refused; the last day of year 9999 ends at the last storable instant", () => {
    for (const text of ["2024-02-30", "20241301", "20240100"]) timestampErrorOf(() => toRangeBound(text, "end", "UTC"));
    expect(toRangeBound("9999-12-31", "end", "America/New_York")).toBe(MAX_TIMESTAMP);
    expect(toRangeBound("99991231", "end", "UTC")).toBe(MAX_TIMESTAMP);
  });
});

describe("formatIsoLocal", () => {
  test.each([
    [Date.UTC(2024, 0, 15, 1, 31), "Asia/Shanghai", "2024-01-15T09:31:00+08:00"],
    [Date.UTC(2024, 0, 15, 1, 31, 0, 5), "Asia/Shanghai", "2024-01-15T09:31:00.005+08:00"],
    [Date.UTC(2024, 2, 10, 6, 59), "America/New_York", "2024-03-10T01:59:00-05:00"],
    [Date.UTC(2024, 2, 10, 7), "America/New_York", "2024-03-10T03:00:00-04:00"],
    [Date.UTC(2024, 0, 15), "UTC", "2024-01-15T00:00:00+00:00"],
    [Date.UTC(2024, 0, 15), "Asia/Kolkata", "2024-01-15T05:30:00+05:30"],
    // Local mean time before 1901: the seconds of the offset are written out.
    [Date.UTC(1900, 0, 1), "Asia/Shanghai", "1900-01-01T08:05:43+08:05:43"],
  ])("%p in %p is %p", (ms, zone, text) => {
    expect(formatIsoLocal(ms, zone)).toBe(text);
  });

  test("reads back to the same instant through toEpochMs, across a year of New York hours", () => {
    for (let ms = Date.UTC(2024, 0, 1); ms < Date.UTC(2025, 0, 1); ms += HOUR_MS + 1) {
      expect(toEpochMs(formatIsoLocal(ms, "America/New_York"), "UTC")).toBe(ms);
    }
  });
});

describe("toEpochMs: Date objects", () => {
  test("a Date gives its epoch milliseconds", () => {
    expect(toEpochMs(new Date(JAN_15_2024_0931_UTC + 123), "Asia/Shanghai")).toBe(JAN_15_2024_0931_UTC + 123);
  });

  test("an invalid Date is rejected", () => {
    expect(timestampErrorOf(() => toEpochMs(new Date("not a date"), "UTC")).message).toContain("invalid Date");
  });
});

describe("toEpochMs: ISO-8601 with an offset", () => {
  test.each([
    ["2024-01-15T09:31:00Z", JAN_15_2024_0931_UTC],
    ["2024-01-15T09:31:00z", JAN_15_2024_0931_UTC],
    ["2024-01-15 09:31:00Z", JAN_15_2024_0931_UTC],
    ["2024-01-15T09:31Z", JAN_15_2024_0931_UTC],
    ["2024-01-15 09:31Z", JAN_15_2024_0931_UTC],
    ["2024-01-15T17:31:00+08:00", JAN_15_2024_0931_UTC],
    ["2024-01-15T17:31+08:00", JAN_15_2024_0931_UTC],
    ["2024-01-15T17:31:00+0800", JAN_15_2024_0931_UTC],
    ["2024-01-15T04:31:00-0500", JAN_15_2024_0931_UTC],
    ["2024-01-15 04:31:00-05:00", JAN_15_2024_0931_UTC],
    ["2024-01-15T15:16:00+05:45", JAN_15_2024_0931_UTC],
    ["2024-01-15T00:01:00-09:30", JAN_15_2024_0931_UTC],
    ["2024-01-15T09:31:00+00:00", JAN_15_2024_0931_UTC],
    ["2024-01-15T09:31:00.5Z", JAN_15_2024_0931_UTC + 500],
    ["2024-01-15T09:31:00.12Z", JAN_15_2024_0931_UTC + 120],
    ["2024-01-15T09:31:00.123Z", JAN_15_2024_0931_UTC + 123],
    ["2024-01-15T09:31:00.007Z", JAN_15_2024_0931_UTC + 7],
    ["2024-01-15T09:31:00.123000Z", JAN_15_2024_0931_UTC + 123],
    ["2024-01-15T17:31:00.123000000+08:00", JAN_15_2024_0931_UTC + 123],
    ["1969-12-31T23:59:59.999Z", -1],
  ])("%p is %p", (text, expected) => {
    expect(toEpochMs(text, "UTC")).toBe(expected);
  });

  test("agrees with Date.parse on the same instant", () => {
    for (const text of ["2024-01-15T09:31:00+08:00", "2024-07-01T00:00:00.250-04:00", "2000-02-29T23:59:59Z"]) {
      expect(toEpochMs(text, "UTC")).toBe(Date.parse(text));
    }
  });

  test("the explicit offset wins over the time zone argument", () => {
    const text = "2024-01-15T17:31:00+08:00";
    expect(toEpochMs(text, "America/New_York")).toBe(JAN_15_2024_0931_UTC);
    expect(toEpochMs(text, "Asia/Shanghai")).toBe(JAN_15_2024_0931_UTC);
  });

  test.each(["2024-01-15T09:31:00.1234Z", "2024-01-15T09:31:00.123001Z", "2024-01-15T09:31:00.000000001+08:00"])(
    "nonzero digits below the millisecond in %p are rejected, not truncated",
    (text) => {
      expect(timestampErrorOf(() => toEpochMs(text, "UTC")).message).toContain("sub-millisecond");
    },
  );

  test.each(["2024-01-15T09:31:00+24:00", "2024-01-15T09:31:00+08:60", "2024-01-15T09:31:00-99:00"])(
    "the impossible offset in %p is rejected",
    (text) => {
      timestampErrorOf(() => toEpochMs(text, "UTC"));
    },
  );

  test("round trip: 2,000 random instants written at random offsets parse back to the same millisecond", () => {
    const random = seededRandom(20240115);
    const low = Date.UTC(1000, 0, 2);
    const high = Date.UTC(9999, 11, 30);
    for (let i = 0; i < 2000; i++) {
      // Half whole minutes (so the short forms apply), half arbitrary milliseconds.
      let instant = low + Math.floor(random() * (high - low));
      if (random() < 0.5) instant -= instant % MINUTE_MS;
      const offsetMinutes = randomInt(random, -(23 * 60 + 59), 23 * 60 + 59);
      const wall = new Date(instant + offsetMinutes * MINUTE_MS).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
      const date = wall.slice(0, 10);
      const minutes = wall.slice(11, 16);
      const seconds = wall.slice(17, 19);
      const millis = wall.slice(20, 23);
      let clock: string;
      if (millis !== "000") {
        clock = `${minutes}:${seconds}.${millis.replace(/0+$/, "")}${"0".repeat(randomInt(random, 0, 3))}`;
      } else if (seconds !== "00" || random() < 0.5) {
        clock = `${minutes}:${seconds}${random() < 0.3 ? `.${"0".repeat(randomInt(random, 1, 9))}` : ""}`;
      } else {
        clock = minutes;
      }
      let offset = formatOffset(offsetMinutes);
      if (random() < 0.5) offset = offset.replace(":", "");
      if (offsetMinutes === 0 && random() < 0.5) offset = pick(random, ["Z", "z"]);
      const text = `${date}${pick(random, ["T", " "])}${clock}${offset}`;
      const parsed = toEpochMs(text, pick(random, ["UTC", "Asia/Shanghai", "America/New_York"]));
      if (parsed !== instant) throw new Error(`${text} parsed as ${parsed}, expected ${instant}`);
    }
  });
});

describe("toEpochMs: naive wall-clock times are read in the given zone", () => {
  test.each([
    ["2024-01-15", "2024-01-15T00:00:00+08:00"],
    ["2024-01-15 09:31", "2024-01-15T09:31:00+08:00"],
    ["2024-01-15 09:31:05", "2024-01-15T09:31:05+08:00"],
    ["2024-01-15T09:31:05", "2024-01-15T09:31:05+08:00"],
    ["2024-01-15 09:31:05.250", "2024-01-15T09:31:05.250+08:00"],
    ["2024-01-01 00:00", "2023-12-31T16:00:00Z"],
  ])("%p in Asia/Shanghai is %p", (naive, explicit) => {
    expect(toEpochMs(naive, "Asia/Shanghai")).toBe(Date.parse(explicit));
  });

  test("the same naive string in UTC is read as UTC", () => {
    expect(toEpochMs("2024-01-15 09:31", "UTC")).toBe(JAN_15_2024_0931_UTC);
    expect(toEpochMs("2024-01-15", "UTC")).toBe(Date.UTC(2024, 0, 15));
  });

  test("Asia/Shanghai reads a naive time eight hours earlier than UTC does", () => {
    expect(toEpochMs("2024-06-01 09:30", "UTC") - toEpochMs("2024-06-01 09:30", "Asia/Shanghai")).toBe(8 * HOUR_MS);
  });

  test("round trip: a random instant's Shanghai wall clock, written naive, reads back as the instant", () => {
    const random = seededRandom(600519);
    const low = Date.UTC(1995, 0, 1);
    const high = Date.UTC(2040, 0, 1);
    for (let i = 0; i < 500; i++) {
      const instant = low + Math.floor(random() * (high - low));
      const naive = new Date(instant + 8 * HOUR_MS).toISOString().slice(0, 23).replace("T", " ");
      expect(toEpochMs(naive, "Asia/Shanghai")).toBe(instant);
    }
  });
});

describe("toEpochMs: calendar and clock fields are checked", () => {
  test("29 February of an early leap year (0004) stays 29 February", () => {
    expect(new Date(toEpochMs("0004-02-29T00:00:00Z", "UTC")).toISOString()).toBe("0004-02-29T00:00:00.000Z");
    expect(new Date(toEpochMs("0096-02-29", "UTC")).toISOString()).toBe("0096-02-29T00:00:00.000Z");
  });

  test("years outside 0001-9999 are out of range, whatever the form", () => {
    for (const value of ["0000-02-29T00:00:00Z", "0000-06-01", MIN_TIMESTAMP - 1, MAX_TIMESTAMP + 1, 8.64e15]) {
      expect(() => toEpochMs(value, "UTC")).toThrow(/out of range/);
    }
    expect(new Date(MIN_TIMESTAMP).toISOString()).toBe("0001-01-01T00:00:00.000Z");
    expect(new Date(MAX_TIMESTAMP).toISOString()).toBe("9999-12-31T23:59:59.999Z");
  });

  test.each([
    "2023-02-29",
    "2100-02-29",
    "1900-02-29 00:00",
    "2024-13-01",
    "2024-00-10",
    "2024-04-31",
    "2024-06-31 10:00",
    "2024-01-00",
    "2024-01-32",
    "2024-01-15 24:00",
    "2024-01-15 23:60",
    "2024-01-15 23:59:60",
    "2023-02-29T00:00:00Z",
    "2024-04-31T12:00:00+08:00",
    "2024-01-15T24:00:00Z",
    "2024-01-15T09:60Z",
    "2024-01-15T09:31:60+08:00",
  ])("%p is rejected", (text) => {
    timestampErrorOf(() => toEpochMs(text, "Asia/Shanghai"));
  });

  test.each([
    ["2024-02-29", Date.UTC(2024, 1, 29)],
    ["2000-02-29 12:00", Date.UTC(2000, 1, 29, 12)],
    ["2024-02-29T23:59:59.999Z", Date.UTC(2024, 1, 29, 23, 59, 59, 999)],
    ["2024-04-30", Date.UTC(2024, 3, 30)],
    ["2024-12-31 23:59:59", Date.UTC(2024, 11, 31, 23, 59, 59)],
  ])("the real date %p is accepted", (text, expected) => {
    expect(toEpochMs(text, "UTC")).toBe(expected);
  });

  test("a year below 100 is that year, not 19xx", () => {
    const ms = toEpochMs("0050-06-15T00:00:00Z", "UTC");
    expect(new Date(ms).getUTCFullYear()).toBe(50);
    expect(formatIsoUtc(ms)).toBe("0050-06-15T00:00:00.000Z");
  });
});

describe("toEpochMs: daylight-saving time (America/New_York)", () => {
  test.each(["2024-03-10 02:00", "2024-03-10 02:30", "2024-03-10 02:59:59"])(
    "%p falls in the spring-forward gap and is rejected",
    (text) => {
      expect(timestampErrorOf(() => toEpochMs(text, "America/New_York")).message).toContain("daylight-saving gap");
    },
  );

  test("the minutes either side of the gap exist", () => {
    expect(toEpochMs("2024-03-10 01:59", "America/New_York")).toBe(Date.parse("2024-03-10T01:59:00-05:00"));
    expect(toEpochMs("2024-03-10 03:00", "America/New_York")).toBe(Date.parse("2024-03-10T03:00:00-04:00"));
  });

  test("2024-11-03 01:30 happens twice and is read as the first occurrence (-04:00)", () => {
    const first = Date.parse("2024-11-03T01:30:00-04:00");
    expect(toEpochMs("2024-11-03 01:30", "America/New_York")).toBe(first);
    expect(first).not.toBe(Date.parse("2024-11-03T01:30:00-05:00"));
  });

  test("the whole repeated hour resolves to daylight time, the hour after to standard time", () => {
    expect(toEpochMs("2024-11-03 01:00", "America/New_York")).toBe(Date.parse("2024-11-03T01:00:00-04:00"));
    expect(toEpochMs("2024-11-03 01:59:59", "America/New_York")).toBe(Date.parse("2024-11-03T01:59:59-04:00"));
    expect(toEpochMs("2024-11-03 02:00", "America/New_York")).toBe(Date.parse("2024-11-03T02:00:00-05:00"));
  });

  test("an ISO string with an offset inside the repeated hour can name the second occurrence", () => {
    expect(toEpochMs("2024-11-03T01:30:00-05:00", "America/New_York")).toBe(Date.UTC(2024, 10, 3, 6, 30));
  });

  test("Europe/London's repeated hour also resolves to the first occurrence (+01:00)", () => {
    expect(toEpochMs("2024-10-27 01:30", "Europe/London")).toBe(Date.parse("2024-10-27T01:30:00+01:00"));
    timestampErrorOf(() => toEpochMs("2024-03-31 01:30", "Europe/London"));
  });
});

describe("toEpochMs: anything else is rejected with a TimestampError", () => {
  test.each([
    "",
    " ",
    "now",
    "today",
    "2024",
    "2024-01",
    "2024-1-5",
    "2024/01/15",
    "15/01/2024",
    "20240115",
    "20240115T093100Z",
    "1705311060000",
    " 2024-01-15",
    "2024-01-15 ",
    "2024-01-15\n",
    "2024-01-15T09",
    "2024-01-15T09:31:00+8",
    "2024-01-15T09:31:00 +08:00",
    "2024-01-15T09:31:00.Z",
    "2024-01-15T09:31:00.1234567890Z",
    "2024-01-15T09:31:00 UTC",
    "Mon, 15 Jan 2024 09:31:00 GMT",
    "+275760-09-13T00:00:00Z",
    "NaN",
    "Infinity",
  ])("the string %p", (text) => {
    timestampErrorOf(() => toEpochMs(text, "UTC"));
  });

  test.each([
    ["true", true],
    ["false", false],
    ["null", null],
    ["undefined", undefined],
    ["an object", {}],
    ["an array", [JAN_15_2024_0931_UTC]],
    ["a bigint", 1705311060000n],
    ["a function", () => JAN_15_2024_0931_UTC],
    ["a boxed number", Object(JAN_15_2024_0931_UTC)],
  ])("%s", (_name, value) => {
    timestampErrorOf(() => toEpochMs(value, "UTC"));
  });

  test("2,000 random strings containing a letter no timestamp has are all rejected", () => {
    const random = seededRandom(42);
    const alphabet = "0123456789-:+. TZtz/,abcxyzABCXYZ!@#%^&*()_=[]{}|;'\"<>?`~\\\u00e9\u4e2d\u0000\n";
    const foreign = "abcxyzABCXYZ!@#%/\u4e2d";
    for (let i = 0; i < 2000; i++) {
      const length = randomInt(random, 0, 32);
      const chars = Array.from({ length }, () => pick(random, [...alphabet]));
      chars.splice(randomInt(random, 0, length), 0, pick(random, [...foreign]));
      const text = chars.join("");
      let error: unknown;
      try {
        toEpochMs(text, pick(random, ["UTC", "Asia/Shanghai"]));
      } catch (caught) {
        error = caught;
      }
      if (!(error instanceof TimestampError)) throw new Error(`${JSON.stringify(text)} was not rejected with a TimestampError`);
    }
  });

  test("the error message quotes the input and names the accepted forms", () => {
    const { message } = timestampErrorOf(() => toEpochMs("yesterday", "UTC"));
    expect(message).toContain('"yesterday"');
    expect(message).toContain("ISO-8601");
  });
});

describe("offsetAt", () => {
  test("UTC and its aliases are always 0", () => {
    for (const zone of ["UTC", "Etc/UTC", "GMT", "Etc/GMT"]) {
      expect(offsetAt(zone, JAN_15_2024_0931_UTC)).toBe(0);
      expect(offsetAt(zone, Date.UTC(2024, 6, 1))).toBe(0);
    }
  });

  test("Asia/Shanghai is +8 hours all year", () => {
    for (const month of [0, 3, 6, 9, 11]) {
      expect(offsetAt("Asia/Shanghai", Date.UTC(2024, month, 15, 3))).toBe(28_800_000);
    }
  });

  test("zones with half- and quarter-hour offsets", () => {
    expect(offsetAt("Asia/Kolkata", JAN_15_2024_0931_UTC)).toBe(5.5 * HOUR_MS);
    expect(offsetAt("Asia/Kathmandu", JAN_15_2024_0931_UTC)).toBe(5.75 * HOUR_MS);
    expect(offsetAt("America/St_Johns", JAN_15_2024_0931_UTC)).toBe(-3.5 * HOUR_MS);
  });

  test("America/New_York is -5h in winter and -4h in summer", () => {
    expect(offsetAt("America/New_York", Date.UTC(2024, 0, 15))).toBe(-5 * HOUR_MS);
    expect(offsetAt("America/New_York", Date.UTC(2024, 6, 15))).toBe(-4 * HOUR_MS);
  });

  test("the offset changes exactly at the transition instant, to the millisecond", () => {
    const spring = Date.parse("2024-03-10T07:00:00Z");
    const autumn = Date.parse("2024-11-03T06:00:00Z");
    expect(offsetAt("America/New_York", spring - 1)).toBe(-5 * HOUR_MS);
    expect(offsetAt("America/New_York", spring)).toBe(-4 * HOUR_MS);
    expect(offsetAt("America/New_York", autumn - 1)).toBe(-4 * HOUR_MS);
    expect(offsetAt("America/New_York", autumn)).toBe(-5 * HOUR_MS);
  });

  test("instants before 1970 (negative epoch ms) work, including their millisecond part", () => {
    expect(offsetAt("Asia/Shanghai", -1)).toBe(8 * HOUR_MS);
    expect(offsetAt("America/New_York", Date.UTC(1960, 0, 15) - 1)).toBe(-5 * HOUR_MS);
    expect(offsetAt("America/New_York", Date.UTC(1960, 6, 15) + 1)).toBe(-4 * HOUR_MS);
  });

  test("a pre-1970 transition also changes the offset exactly at its instant (1960-04-24T07:00Z)", () => {
    // Negative epoch ms must round down to the second, or 1 ms before the change reads as after it.
    const spring1960 = Date.UTC(1960, 3, 24, 7);
    expect(offsetAt("America/New_York", spring1960 - 1)).toBe(-5 * HOUR_MS);
    expect(offsetAt("America/New_York", spring1960 - 999)).toBe(-5 * HOUR_MS);
    expect(offsetAt("America/New_York", spring1960)).toBe(-4 * HOUR_MS);
    const autumn1960 = Date.UTC(1960, 9, 30, 6);
    expect(offsetAt("America/New_York", autumn1960 - 1)).toBe(-4 * HOUR_MS);
    expect(offsetAt("America/New_York", autumn1960)).toBe(-5 * HOUR_MS);
  });

  test("matches the US and EU daylight-saving rules at 2,000 random instants in 2007-2037", () => {
    const random = seededRandom(2007);
    const low = Date.UTC(2007, 0, 1);
    const high = Date.UTC(2038, 0, 1);
    for (let i = 0; i < 2000; i++) {
      const instant = low + Math.floor(random() * (high - low));
      expect(offsetAt("America/New_York", instant)).toBe(newYorkOffset(instant));
      expect(offsetAt("Europe/London", instant)).toBe(londonOffset(instant));
    }
  });
});

describe("wallTimeToUtc", () => {
  test("in UTC the wall clock is the instant", () => {
    expect(wallTimeToUtc(JAN_15_2024_0931_UTC, "UTC")).toBe(JAN_15_2024_0931_UTC);
  });

  test("in Asia/Shanghai the instant is eight hours before the wall clock", () => {
    expect(wallTimeToUtc(JAN_15_2024_0931_UTC, "Asia/Shanghai")).toBe(JAN_15_2024_0931_UTC - 8 * HOUR_MS);
  });

  test("a wall time in the spring-forward gap is refused, naming the text when given", () => {
    const wall = Date.UTC(2024, 2, 10, 2, 30);
    timestampErrorOf(() => wallTimeToUtc(wall, "America/New_York"));
    expect(timestampErrorOf(() => wallTimeToUtc(wall, "America/New_York", "2024-03-10 02:30")).message).toContain(
      '"2024-03-10 02:30"',
    );
  });

  test("a repeated wall time is its first occurrence", () => {
    expect(wallTimeToUtc(Date.UTC(2024, 10, 3, 1, 30), "America/New_York")).toBe(Date.UTC(2024, 10, 3, 5, 30));
  });

  test("round trip against the US rule: 2,000 random instants' wall clocks map back to the earliest matching instant", () => {
    const random = seededRandom(1730611800);
    const low = Date.UTC(2007, 0, 1);
    const high = Date.UTC(2038, 0, 1);
    let repeated = 0;
    for (let i = 0; i < 2000; i++) {
      // Bias a quarter of the draws into the days around each transition.
      let instant = low + Math.floor(random() * (high - low));
      if (random() < 0.25) {
        const year = new Date(instant).getUTCFullYear();
        const transition = random() < 0.5
          ? Date.UTC(year, 2, nthSunday(year, 2, 2), 7)
          : Date.UTC(year, 10, nthSunday(year, 10, 1), 6);
        instant = transition + randomInt(random, -2 * HOUR_MS, 2 * HOUR_MS);
      }
      const wall = instant + newYorkOffset(instant);
      // The earlier of the two candidate readings that is consistent with the rule.
      const candidates = [wall + 4 * HOUR_MS, wall + 5 * HOUR_MS].filter((u) => u + newYorkOffset(u) === wall);
      const expected = Math.min(...candidates);
      if (candidates.length === 2) repeated++;
      expect(wallTimeToUtc(wall, "America/New_York")).toBe(expected);
    }
    expect(repeated).toBeGreaterThan(0);
  });
});

describe("offsetSpans", () => {
  const year2024 = { start: Date.UTC(2024, 0, 1), end: Date.UTC(2025, 0, 1) - 1 };

  test("UTC is one span covering the range", () => {
    expect(offsetSpans("UTC", year2024.start, year2024.end)).toEqual([
      { start: year2024.start, end: year2024.end + 1, offset: 0 },
    ]);
  });

  test("Asia/Shanghai over 2024 is one span at +8h", () => {
    expect(offsetSpans("Asia/Shanghai", year2024.start, year2024.end)).toEqual([
      { start: year2024.start, end: year2024.end + 1, offset: 8 * HOUR_MS },
    ]);
  });

  test("America/New_York over 2024 is three spans split at 2024-03-10T07:00Z and 2024-11-03T06:00Z", () => {
    const spring = Date.parse("2024-03-10T07:00:00Z");
    const autumn = Date.parse("2024-11-03T06:00:00Z");
    expect(offsetSpans("America/New_York", year2024.start, year2024.end)).toEqual([
      { start: year2024.start, end: spring, offset: -5 * HOUR_MS },
      { start: spring, end: autumn, offset: -4 * HOUR_MS },
      { start: autumn, end: year2024.end + 1, offset: -5 * HOUR_MS },
    ]);
  });

  test("a range that starts in summer and crosses a year starts in daylight time", () => {
    const start = Date.UTC(2024, 5, 1);
    const end = Date.UTC(2025, 5, 1);
    expect(offsetSpans("America/New_York", start, end)).toEqual([
      { start, end: Date.parse("2024-11-03T06:00:00Z"), offset: -4 * HOUR_MS },
      { start: Date.parse("2024-11-03T06:00:00Z"), end: Date.parse("2025-03-09T07:00:00Z"), offset: -5 * HOUR_MS },
      { start: Date.parse("2025-03-09T07:00:00Z"), end: end + 1, offset: -4 * HOUR_MS },
    ]);
  });

  test("a range starting exactly at a transition has no empty span before it", () => {
    const spring = Date.parse("2024-03-10T07:00:00Z");
    expect(offsetSpans("America/New_York", spring, spring + DAY_MS)).toEqual([
      { start: spring, end: spring + DAY_MS + 1, offset: -4 * HOUR_MS },
    ]);
  });

  test("a range ending exactly at a transition includes that instant in the new offset", () => {
    const spring = Date.parse("2024-03-10T07:00:00Z");
    expect(offsetSpans("America/New_York", spring - HOUR_MS, spring)).toEqual([
      { start: spring - HOUR_MS, end: spring, offset: -5 * HOUR_MS },
      { start: spring, end: spring + 1, offset: -4 * HOUR_MS },
    ]);
  });

  test("a single instant is one span of one millisecond", () => {
    expect(offsetSpans("America/New_York", JAN_15_2024_0931_UTC, JAN_15_2024_0931_UTC)).toEqual([
      { start: JAN_15_2024_0931_UTC, end: JAN_15_2024_0931_UTC + 1, offset: -5 * HOUR_MS },
    ]);
  });

  test("random ranges: spans are contiguous, non-empty, cover [start, end] and carry the offset of every instant inside", () => {
    const random = seededRandom(86_400_000);
    const zones = ["America/New_York", "Europe/London", "Australia/Sydney", "America/Sao_Paulo", "Asia/Shanghai", "UTC"];
    const low = Date.UTC(1995, 0, 1);
    const high = Date.UTC(2035, 0, 1);
    for (let i = 0; i < 150; i++) {
      const zone = pick(random, zones);
      const start = low + Math.floor(random() * (high - low));
      const end = start + Math.floor(random() * 3 * 365 * DAY_MS);
      const spans = offsetSpans(zone, start, end);
      expect(spans[0]!.start).toBe(start);
      expect(spans.at(-1)!.end).toBe(end + 1);
      for (let s = 0; s < spans.length; s++) {
        const span = spans[s]!;
        expect(span.end).toBeGreaterThan(span.start);
        if (s > 0) {
          expect(span.start).toBe(spans[s - 1]!.end);
          expect(span.offset).not.toBe(spans[s - 1]!.offset);
        }
        expect(offsetAt(zone, span.start)).toBe(span.offset);
        expect(offsetAt(zone, span.end - 1)).toBe(span.offset);
        const inside = span.start + Math.floor(random() * (span.end - span.start));
        expect(offsetAt(zone, inside)).toBe(span.offset);
      }
    }
  });
});

describe("assertTimeZone", () => {
  test.each(["UTC", "Asia/Shanghai", "America/New_York", "Europe/London"])("accepts %p and returns it", (zone) => {
    expect(assertTimeZone(zone)).toBe(zone);
  });

  test.each([
    ["an unknown zone", "Mars/Olympus"],
    ["an empty string", ""],
    ["a number", 8],
    ["null", null],
    ["undefined", undefined],
  ])("rejects %s with a ValidationError on field timezone", (_name, zone) => {
    const issues = issuesOf(() => assertTimeZone(zone));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.field).toBe("timezone");
  });

  test("names the field it was given", () => {
    expect(issuesOf(() => assertTimeZone("Nowhere/Special", "tz"))[0]!.field).toBe("tz");
  });

  test("the message quotes the unknown zone", () => {
    expect(thrownBy(() => assertTimeZone("Mars/Olympus"), ValidationError).message).toContain('"Mars/Olympus"');
  });
});

describe("errors from the public time helpers are typed", () => {
  test("an unreadable timestamp is a ValidationError on the field timestamp", () => {
    let caught: unknown;
    try {
      toEpochMs("garbage", "UTC");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).issues).toEqual([{ field: "timestamp", message: expect.stringContaining("garbage") }]);
  });
});
