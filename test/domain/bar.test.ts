import type { SyntheticBar } from "../../scripts/synthetic-bars.ts";
import { describe, expect, test } from "bun:test";
import { BAR_VALUE_FIELDS, validateBars, type BarColumns, type BarInput } from "../../src/domain/bar.ts";
import { batchSize, rowAt } from "../../src/domain/batch.ts";
import { ValidationError } from "../../src/domain/errors.ts";
import { MAX_TIMESTAMP, MINUTE_MS } from "../../src/domain/time.ts";
import { isoAtOffset, issuesOf, plainBatch, randomInt, seededRandom, thrownBy } from "../support/domain-fixtures.ts";

/** 2024-01-15 09:31 in Shanghai: the first one-minute bar of an A-share trading day. */
const OPEN_0931 = Date.parse("2024-01-15T09:31:00+08:00");

type FullBar = SyntheticBar;

/** `count` consistent one-minute bars of 600519 from 09:31 Shanghai, prices to the cent. */
function minuteBars(count: number, seed = 600519): FullBar[] {
  const random = seededRandom(seed);
  const bars: FullBar[] = [];
  let price = 1688.0;
  for (let i = 0; i < count; i++) {
    const open = price;
    const close = Math.round((open + (random() - 0.5) * 4) * 100) / 100;
    const high = Math.round((Math.max(open, close) + random() * 2) * 100) / 100;
    const low = Math.round((Math.min(open, close) - random() * 2) * 100) / 100;
    const volume = randomInt(random, 0, 500) * 100;
    bars.push({ timestamp: OPEN_0931 + i * MINUTE_MS, open, high, low, close, volume, amount: volume * close });
    price = close;
  }
  return bars;
}

function toColumns(bars: readonly FullBar[]): { [K in keyof FullBar]: number[] } {
  return {
    timestamp: bars.map((bar) => bar.timestamp),
    open: bars.map((bar) => bar.open),
    high: bars.map((bar) => bar.high),
    low: bars.map((bar) => bar.low),
    close: bars.map((bar) => bar.close),
    volume: bars.map((bar) => bar.volume),
    amount: bars.map((bar) => bar.amount),
  };
}

const plain = (batch: Parameters<typeof plainBatch>[0]) => plainBatch(batch, BAR_VALUE_FIELDS);

/** A valid bar around 10.00 with the given fields replaced. */
function bar(fields: Partial<Record<keyof FullBar, unknown>> = {}): BarInput {
  return { timestamp: OPEN_0931, open: 10, high: 11, low: 9, close: 10.5, volume: 1000, amount: 10_500, ...fields } as BarInput;
}

describe("validateBars: input shapes", () => {
  const bars = minuteBars(10);

  test("rows become Float64Array columns holding exactly the given values", () => {
    const batch = validateBars(bars, "UTC");
    expect(batch.length).toBe(10);
    expect(batch.timestamp).toBeInstanceOf(Float64Array);
    expect(plain(batch)).toEqual({ length: 10, order: null, ...toColumns(bars) });
  });

  test("columns of plain arrays give the same batch as rows", () => {
    expect(plain(validateBars(toColumns(bars), "UTC"))).toEqual(plain(validateBars(bars, "UTC")));
  });

  test("columns of Float64Arrays give the same batch as rows", () => {
    const columns = toColumns(bars);
    const typed: BarColumns = {
      timestamp: Float64Array.from(columns.timestamp),
      open: Float64Array.from(columns.open),
      high: Float64Array.from(columns.high),
      low: Float64Array.from(columns.low),
      close: Float64Array.from(columns.close),
      volume: Float64Array.from(columns.volume),
      amount: Float64Array.from(columns.amount),
    };
    expect(plain(validateBars(typed, "UTC"))).toEqual(plain(validateBars(bars, "UTC")));
  });

  test("a BigInt64Array timestamp column gives the same batch as numbers", () => {
    const columns = toColumns(bars);
    const withBigInts = { ...columns, timestamp: BigInt64Array.from(columns.timestamp.map(BigInt)) };
    expect(plain(validateBars(withBigInts, "UTC"))).toEqual(plain(validateBars(bars, "UTC")));
  });

  test("Int32Array, Uint32Array and Float32Array value columns are read as numbers", () => {
    const batch = validateBars(
      {
        timestamp: [OPEN_0931, OPEN_0931 + MINUTE_MS],
        open: new Float32Array([10.5, 11]),
        high: new Float32Array([12, 12]),
        low: new Float32Array([10, 10.25]),
        volume: new Int32Array([100, 0]),
        amount: new Uint32Array([1050, 4_000_000_000]),
      },
      "UTC",
    );
    expect(Array.from(batch.open)).toEqual([10.5, 11]);
    expect(Array.from(batch.low)).toEqual([10, 10.25]);
    expect(Array.from(batch.volume)).toEqual([100, 0]);
    expect(Array.from(batch.amount)).toEqual([1050, 4_000_000_000]);
    expect(Array.from(batch.close)).toEqual([NaN, NaN]);
  });

  test("ISO strings, Dates and naive strings in the zone give the same batch as epoch numbers", () => {
    const expected = plain(validateBars(bars, "Asia/Shanghai"));
    const iso = bars.map((b, i) => ({ ...b, timestamp: isoAtOffset(b.timestamp, i % 2 === 0 ? 480 : -300) }));
    const dates = bars.map((b) => ({ ...b, timestamp: new Date(b.timestamp) }));
    const naive = bars.map((b) => ({ ...b, timestamp: new Date(b.timestamp + 8 * 3_600_000).toISOString().slice(0, 19).replace("T", " ") }));
    expect(plain(validateBars(iso, "Asia/Shanghai"))).toEqual(expected);
    expect(plain(validateBars(dates, "Asia/Shanghai"))).toEqual(expected);
    expect(plain(validateBars(naive, "Asia/Shanghai"))).toEqual(expected);
    expect(plain(validateBars({ ...toColumns(bars), timestamp: naive.map((b) => b.timestamp) }, "Asia/Shanghai"))).toEqual(expected);
  });

  test("a naive timestamp is read in the zone passed", () => {
    expect(validateBars([{ timestamp: "2024-01-15 09:31" }], "Asia/Shanghai").timestamp[0]).toBe(OPEN_0931);
    expect(validateBars([{ timestamp: "2024-01-15 09:31" }], "UTC").timestamp[0]).toBe(Date.UTC(2024, 0, 15, 9, 31));
  });

  test("an empty array is an empty batch", () => {
    const batch = validateBars([], "UTC");
    expect(batch.length).toBe(0);
    expect(batchSize(batch)).toBe(0);
  });
});

describe("validateBars: missing values are null (NaN in the batch)", () => {
  test("omitted, null and undefined fields of a row are NaN", () => {
    const batch = validateBars(
      [{ timestamp: OPEN_0931, close: 10 }, { timestamp: OPEN_0931 + MINUTE_MS, open: null, high: undefined, close: 11 }],
      "UTC",
    );
    expect(plain(batch)).toEqual({
      length: 2,
      order: null,
      timestamp: [OPEN_0931, OPEN_0931 + MINUTE_MS],
      open: [NaN, NaN],
      high: [NaN, NaN],
      low: [NaN, NaN],
      close: [10, 11],
      volume: [NaN, NaN],
      amount: [NaN, NaN],
    });
  });

  test("an omitted column is all NaN and a null inside a column is NaN", () => {
    const batch = validateBars({ timestamp: [OPEN_0931, OPEN_0931 + MINUTE_MS], close: [10, null] }, "UTC");
    expect(Array.from(batch.close)).toEqual([10, NaN]);
    for (const field of ["open", "high", "low", "volume", "amount"] as const) {
      expect(Array.from(batch[field])).toEqual([NaN, NaN]);
    }
  });

  test("a bar with only a timestamp is valid", () => {
    expect(validateBars([{ timestamp: OPEN_0931 }], "UTC").length).toBe(1);
  });
});

describe("validateBars: values must be finite numbers, never coerced", () => {
  test("an unknown field such as vol is refused with its row and field", () => {
    const rows: BarInput[] = [bar(), bar({ timestamp: OPEN_0931 + MINUTE_MS }), { ...bar({ timestamp: OPEN_0931 + 2 * MINUTE_MS }), vol: 100 } as BarInput];
    expect(issuesOf(() => validateBars(rows, "UTC"))).toEqual([{ row: 2, field: "vol", message: "unknown field" }]);
  });

  test("an unknown column such as vol is refused with its field", () => {
    const columns = { timestamp: [OPEN_0931], close: [10], vol: [100] } as BarColumns;
    expect(issuesOf(() => validateBars(columns, "UTC"))).toEqual([{ field: "vol", message: "unknown column" }]);
  });

  test.each([
    ["NaN", NaN],
    ["Infinity", Infinity],
    ["-Infinity", -Infinity],
  ])("%s in a row is refused with its row and field", (_name, value) => {
    const issues = issuesOf(() => validateBars([bar(), bar({ timestamp: OPEN_0931 + MINUTE_MS, volume: value })], "UTC"));
    expect(issues).toEqual([{ row: 1, field: "volume", message: expect.stringContaining("finite") }]);
  });

  test("NaN and Infinity inside typed array columns are refused with their rows", () => {
    const issues = issuesOf(() =>
      validateBars(
        {
          timestamp: new Float64Array([OPEN_0931, OPEN_0931 + MINUTE_MS, OPEN_0931 + 2 * MINUTE_MS]),
          close: new Float64Array([10, NaN, 10]),
          volume: new Float32Array([100, 100, Infinity]),
        },
        "UTC",
      ),
    );
    expect(issues).toEqual([
      { row: 1, field: "close", message: expect.stringContaining("finite") },
      { row: 2, field: "volume", message: expect.stringContaining("finite") },
    ]);
  });

  test.each([
    ["a numeric string", "10.5"],
    ["an empty string", ""],
    ["a boolean", true],
    ["a bigint", 10n],
    ["a boxed number", Object(10)],
    ["an object with valueOf", { valueOf: () => 10 }],
    ["an array", [10]],
  ])("%s for a price is refused, not coerced", (_name, value) => {
    const issues = issuesOf(() => validateBars([bar({ close: value })], "UTC"));
    expect(issues).toEqual([{ row: 0, field: "close", message: expect.stringContaining("must be a number or null") }]);
  });

  test("a numeric string in a column is refused, not coerced", () => {
    const columns = { timestamp: [OPEN_0931], volume: ["100"] } as unknown as BarColumns;
    expect(issuesOf(() => validateBars(columns, "UTC"))).toEqual([
      { row: 0, field: "volume", message: expect.stringContaining("got string") },
    ]);
  });

  test.each([
    ["missing", undefined],
    ["null", null],
    ["fractional", OPEN_0931 + 0.5],
    ["a numeric string", String(OPEN_0931)],
    ["out of range", MAX_TIMESTAMP + 1],
    ["not a date", "2024-02-30 09:31"],
    ["in a daylight-saving gap", "2024-03-10 02:30"],
  ])("a %s timestamp is refused on field timestamp", (_name, timestamp) => {
    const issues = issuesOf(() => validateBars([bar(), bar({ timestamp })], "America/New_York"));
    expect(issues).toEqual([{ row: 1, field: "timestamp", message: expect.any(String) }]);
  });

  test("bad timestamps inside typed arrays are refused with their rows", () => {
    const fractional = issuesOf(() => validateBars({ timestamp: new Float64Array([OPEN_0931, OPEN_0931 + 0.5, NaN]) }, "UTC"));
    expect(fractional.map((issue) => [issue.row, issue.field])).toEqual([
      [1, "timestamp"],
      [2, "timestamp"],
    ]);
    const bigints = issuesOf(() =>
      validateBars({ timestamp: new BigInt64Array([BigInt(OPEN_0931), 8_640_000_000_000_001n, 9_007_199_254_740_993n]) }, "UTC"),
    );
    expect(bigints.map((issue) => [issue.row, issue.field])).toEqual([
      [1, "timestamp"],
      [2, "timestamp"],
    ]);
  });

  test.each([
    ["null", null],
    ["a number", 42],
    ["a string", "bar"],
    ["an array", [OPEN_0931, 10, 11, 9, 10.5]],
  ])("a row that is %s is refused with its row", (_name, row) => {
    const issues = issuesOf(() => validateBars([bar(), row as unknown as BarInput], "UTC"));
    expect(issues).toContainEqual({ row: 1, message: expect.stringContaining("expected a bar object") });
    expect(issues.some((issue) => issue.row === 0)).toBe(false);
  });
});

describe("validateBars: price and size rules", () => {
  test.each(["open", "high", "low", "close"] as const)("%s must be above zero: 0 and negatives are refused", (field) => {
    for (const value of [0, -0, -0.01, -10]) {
      // Keep the OHLC order intact so only the positivity rule can fire.
      const rows = [{ timestamp: OPEN_0931, open: value, high: value, low: value, close: value, [field]: value }];
      const issues = issuesOf(() => validateBars(rows, "UTC"));
      expect(issues).toContainEqual({ row: 0, field, message: expect.stringContaining("> 0") });
    }
  });

  test("the smallest positive price is accepted", () => {
    expect(validateBars([bar({ open: 0.001, high: 0.001, low: 0.001, close: 0.001 })], "UTC").close[0]).toBe(0.001);
  });

  test.each(["volume", "amount"] as const)("%s may be zero", (field) => {
    expect(validateBars([bar({ [field]: 0 })], "UTC")[field][0]).toBe(0);
  });

  test.each(["volume", "amount"] as const)("%s must not be negative", (field) => {
    for (const value of [-1, -1e-300]) {
      expect(issuesOf(() => validateBars([bar({ [field]: value })], "UTC"))).toEqual([
        { row: 0, field, message: expect.stringContaining(">= 0") },
      ]);
    }
  });

  test("the denormal volume 5.877471754111438e-39 from TDX exports is accepted unchanged", () => {
    const denormal = 5.877471754111438e-39;
    const fromRows = validateBars([bar({ volume: denormal, amount: denormal })], "UTC");
    expect(Object.is(fromRows.volume[0], denormal)).toBe(true);
    expect(Object.is(fromRows.amount[0], denormal)).toBe(true);
    const fromFloat32 = validateBars({ timestamp: [OPEN_0931], volume: new Float32Array([denormal]) }, "UTC");
    expect(Object.is(fromFloat32.volume[0], denormal)).toBe(true);
  });

  test.each([
    ["low above open", { open: 10, high: 11, low: 10.5, close: 10.8 }, "low"],
    ["low above close", { open: 10.8, high: 11, low: 10.5, close: 10 }, "low"],
    ["open above high", { open: 11.5, high: 11, low: 9, close: 10 }, "high"],
    ["close above high", { open: 10, high: 11, low: 9, close: 11.5 }, "high"],
  ])("%s is refused", (_name, prices, field) => {
    const issues = issuesOf(() => validateBars([{ timestamp: OPEN_0931, ...prices }], "UTC"));
    expect(issues).toEqual([{ row: 0, field, message: expect.any(String) }]);
  });

  test("low above high is refused on field low", () => {
    const issues = issuesOf(() => validateBars([{ timestamp: OPEN_0931, high: 9, low: 10 }], "UTC"));
    expect(issues).toEqual([{ row: 0, field: "low", message: "low 10 is above high 9" }]);
  });

  test("a flat bar (all four prices equal) is valid", () => {
    expect(validateBars([bar({ open: 10, high: 10, low: 10, close: 10 })], "UTC").length).toBe(1);
  });

  test("an inverted bar breaks every ordering rule at once and each is reported", () => {
    const issues = issuesOf(() => validateBars([{ timestamp: OPEN_0931, open: 10, high: 9, low: 11, close: 10 }], "UTC"));
    expect(issues.map((issue) => issue.field).sort()).toEqual(["high", "high", "low", "low", "low"]);
  });

  test.each([
    ["high missing", { open: 10, low: 9, close: 10.5 }],
    ["low missing", { open: 10, high: 11, close: 10.5 }],
    ["open and close missing", { high: 11, low: 9 }],
    ["high and low missing", { open: 10, close: 20 }],
    ["only high", { high: 11 }],
  ])("the ordering rules skip null prices: %s is valid", (_name, prices) => {
    expect(validateBars([{ timestamp: OPEN_0931, ...prices }], "UTC").length).toBe(1);
  });

  test.each([
    ["low above open, high missing", { open: 10, low: 10.5, close: 11 }, "low"],
    ["open above high, low missing", { open: 12, high: 11, close: 10.5 }, "high"],
    ["low above high, open and close missing", { high: 9, low: 10 }, "low"],
  ])("the rules still apply to the prices that are present: %s is refused", (_name, prices, field) => {
    expect(issuesOf(() => validateBars([{ timestamp: OPEN_0931, ...prices }], "UTC"))).toEqual([
      { row: 0, field, message: expect.any(String) },
    ]);
  });
});

describe("validateBars: one ValidationError lists every problem", () => {
  test("a row that is not an object is reported once, with no made-up value issues", () => {
    const error = thrownBy(() => validateBars([{ timestamp: OPEN_0931, close: 1 }, null as never], "UTC"), ValidationError);
    expect(error.issues).toEqual([{ row: 1, message: expect.stringContaining("expected a bar object") }]);
  });

  test("3 bad rows among 10 are all reported, each with its row and field", () => {
    const rows: BarInput[] = minuteBars(10);
    rows[2] = { ...rows[2]!, volume: -5 };
    rows[5] = { ...rows[5]!, close: "1700" as unknown as number };
    rows[9] = { ...rows[9]!, high: 1 };
    const error = thrownBy(() => validateBars(rows, "UTC"), ValidationError);
    expect(error.issues.length).toBeGreaterThanOrEqual(3);
    expect(new Set(error.issues.map((issue) => issue.row))).toEqual(new Set([2, 5, 9]));
    expect(error.issues).toContainEqual({ row: 2, field: "volume", message: expect.any(String) });
    expect(error.issues).toContainEqual({ row: 5, field: "close", message: expect.any(String) });
    expect(error.issues).toContainEqual({ row: 9, field: "high", message: expect.any(String) });
    expect(error.message).toContain("row 2 volume");
  });

  test("type errors, unknown fields, bad timestamps and rule breaks are reported together", () => {
    const rows = [
      bar({ timestamp: "yesterday" }),
      { ...bar({ timestamp: OPEN_0931 + MINUTE_MS }), vol: 1 },
      bar({ timestamp: OPEN_0931 + 2 * MINUTE_MS, open: NaN }),
      bar({ timestamp: OPEN_0931 + 3 * MINUTE_MS, amount: -1 }),
    ] as BarInput[];
    const issues = issuesOf(() => validateBars(rows, "UTC"));
    expect(issues.map((issue) => [issue.row, issue.field])).toEqual([
      [0, "timestamp"],
      [1, "vol"],
      [2, "open"],
      [3, "amount"],
    ]);
  });

  test("several faults in one row are each reported", () => {
    const issues = issuesOf(() => validateBars([bar({ open: -1, volume: -1, amount: "x" })], "UTC"));
    expect(issues.map((issue) => issue.field).sort()).toEqual(["amount", "low", "open", "volume"]);
  });

  test("every row of a large batch is checked, not just the first few", () => {
    const rows = minuteBars(1000).map((b, i) => (i % 100 === 99 ? { ...b, volume: -1 } : b));
    const issues = issuesOf(() => validateBars(rows, "UTC"));
    expect(issues.map((issue) => issue.row)).toEqual([99, 199, 299, 399, 499, 599, 699, 799, 899, 999]);
  });
});

describe("validateBars: the shape of columns", () => {
  test("columns of unequal length are refused, naming the column and both lengths", () => {
    const issues = issuesOf(() => validateBars({ timestamp: [OPEN_0931, OPEN_0931 + MINUTE_MS], close: [10, 11, 12] }, "UTC"));
    expect(issues).toEqual([{ field: "close", message: expect.stringMatching(/3.*2/) }]);
  });

  test("a shorter column is refused too", () => {
    expect(issuesOf(() => validateBars({ timestamp: new Float64Array(3), volume: new Float64Array(2) }, "UTC"))[0]!.field).toBe("volume");
  });

  test("a missing timestamp column is refused", () => {
    const issues = issuesOf(() => validateBars({ close: [10, 11] } as unknown as BarColumns, "UTC"));
    expect(issues).toEqual([{ field: "timestamp", message: expect.stringContaining("required") }]);
  });

  test.each([
    ["a number", 5],
    ["a string", "1,2"],
    ["an object", { 0: 1, length: 1 }],
    ["a DataView", new DataView(new ArrayBuffer(8))],
  ])("a timestamp column that is %s is refused", (_name, timestamp) => {
    expect(issuesOf(() => validateBars({ timestamp } as unknown as BarColumns, "UTC"))[0]!.field).toBe("timestamp");
  });

  test.each([
    ["a number", 10],
    ["a string", "10,11"],
    ["a BigInt64Array", new BigInt64Array([10n, 11n])],
    ["a BigUint64Array", new BigUint64Array([10n, 11n])],
  ])("a value column that is %s is refused", (_name, close) => {
    const columns = { timestamp: [OPEN_0931, OPEN_0931 + MINUTE_MS], close } as unknown as BarColumns;
    expect(issuesOf(() => validateBars(columns, "UTC"))).toEqual([{ field: "close", message: expect.any(String) }]);
  });

  test.each([
    ["null", null],
    ["a number", 42],
    ["a string", "600519"],
  ])("input that is %s is refused", (_name, input) => {
    issuesOf(() => validateBars(input as unknown as BarColumns, "UTC"));
  });
});

describe("validateBars: write order", () => {
  test("strictly ascending timestamps need no reordering: order is null", () => {
    const batch = validateBars(minuteBars(10), "UTC");
    expect(batch.order).toBeNull();
    expect(batchSize(batch)).toBe(10);
    expect(rowAt(batch, 7)).toBe(7);
  });

  test("a single bar has order null", () => {
    expect(validateBars([bar()], "UTC").order).toBeNull();
  });

  test("a duplicate timestamp keeps the LAST occurrence and the rows are sorted ascending", () => {
    const t = (minute: number) => OPEN_0931 + minute * MINUTE_MS;
    const batch = validateBars(
      [
        { timestamp: t(3), close: 1 },
        { timestamp: t(1), close: 2 },
        { timestamp: t(3), close: 3 },
        { timestamp: t(2), close: 4 },
        { timestamp: t(1), close: 5 },
      ],
      "UTC",
    );
    expect(batch.order).not.toBeNull();
    expect(Array.from(batch.order!)).toEqual([4, 3, 2]);
    expect(batchSize(batch)).toBe(3);
    const written = Array.from({ length: batchSize(batch) }, (_, i) => batch.close[rowAt(batch, i)]);
    expect(written).toEqual([5, 4, 3]);
  });

  test("two equal timestamps in a row are a duplicate: the second wins", () => {
    const batch = validateBars([bar({ close: 10.1 }), bar({ close: 10.2 })], "UTC");
    expect(Array.from(batch.order!)).toEqual([1]);
  });

  test("the same instant written as a number, an ISO string and a Date is one timestamp", () => {
    const batch = validateBars(
      [{ timestamp: OPEN_0931 }, { timestamp: "2024-01-15T09:31:00+08:00" }, { timestamp: new Date(OPEN_0931) }],
      "UTC",
    );
    expect(Array.from(batch.order!)).toEqual([2]);
  });

  test("descending input is reordered ascending", () => {
    const bars = minuteBars(5).reverse();
    expect(Array.from(validateBars(bars, "UTC").order!)).toEqual([4, 3, 2, 1, 0]);
  });

  test("random batches with duplicates: order lists each timestamp's last row, ascending", () => {
    const random = seededRandom(240);
    for (let round = 0; round < 300; round++) {
      const length = randomInt(random, 1, 60);
      const timestamps = Array.from({ length }, () => OPEN_0931 + randomInt(random, 0, 40) * MINUTE_MS);
      const batch = validateBars({ timestamp: timestamps }, "UTC");
      const lastRow = new Map<number, number>();
      timestamps.forEach((timestamp, row) => lastRow.set(timestamp, row));
      const expected = [...lastRow.entries()].sort((a, b) => a[0] - b[0]).map(([, row]) => row);
      const strictlyAscending = timestamps.every((timestamp, i) => i === 0 || timestamp > timestamps[i - 1]!);
      if (strictlyAscending) {
        expect(batch.order).toBeNull();
        expect(expected).toEqual(timestamps.map((_, i) => i));
      } else {
        expect(Array.from(batch.order!)).toEqual(expected);
      }
    }
  });
});

describe("validateBars: the time zone", () => {
  test("an unknown zone is a ValidationError naming timezone, not a RangeError from Intl", () => {
    const error = thrownBy(() => validateBars([{ timestamp: "2024-01-15 09:31", close: 1 }], "Bad/Zone"), ValidationError);
    expect(error.issues).toEqual([{ field: "timezone", message: expect.stringContaining("Bad/Zone") }]);
  });
});
