import { describe, expect, test } from "bun:test";
import { QUOTE_VALUE_FIELDS, validateQuotes, type QuoteColumns, type QuoteInput } from "../../src/domain/quote.ts";
import { ValidationError } from "../../src/domain/errors.ts";
import { issuesOf, plainBatch, thrownBy } from "../support/domain-fixtures.ts";

const T0 = Date.parse("2024-01-15T09:30:03+08:00");
const SECOND = 1000;

/** A valid level-1 snapshot with the given fields replaced. */
function quote(fields: Record<string, unknown> = {}): QuoteInput {
  return { timestamp: T0, bid: 1688.0, bid_size: 300, ask: 1688.5, ask_size: 200, last: 1688.2, volume: 1_250_000, ...fields } as QuoteInput;
}

const plain = (batch: Parameters<typeof plainBatch>[0]) => plainBatch(batch, QUOTE_VALUE_FIELDS);

describe("validateQuotes: input shapes", () => {
  const quotes = [
    quote(),
    quote({ timestamp: T0 + 3 * SECOND, bid: 1688.1, ask: 1688.4, volume: 1_251_000 }),
    quote({ timestamp: T0 + 6 * SECOND, bid: null, bid_size: null, last: null }),
  ];

  test("rows become columns holding the given values, missing ones as NaN", () => {
    expect(plain(validateQuotes(quotes, "UTC"))).toEqual({
      length: 3,
      order: null,
      timestamp: [T0, T0 + 3 * SECOND, T0 + 6 * SECOND],
      bid: [1688.0, 1688.1, NaN],
      bid_size: [300, 300, NaN],
      ask: [1688.5, 1688.4, 1688.5],
      ask_size: [200, 200, 200],
      last: [1688.2, 1688.2, NaN],
      volume: [1_250_000, 1_251_000, 1_250_000],
    });
  });

  test("columns (arrays, Float64Array, BigInt64Array timestamps) give the same batch as rows", () => {
    const expected = plain(validateQuotes(quotes, "UTC"));
    const column = (field: string) => quotes.map((q) => (q as unknown as Record<string, number | null>)[field] ?? null);
    const arrays: QuoteColumns = {
      timestamp: quotes.map((q) => q.timestamp as number),
      bid: column("bid"),
      bid_size: column("bid_size"),
      ask: column("ask"),
      ask_size: column("ask_size"),
      last: column("last"),
      volume: column("volume"),
    };
    expect(plain(validateQuotes(arrays, "UTC"))).toEqual(expected);
    // Typed arrays cannot hold null, so the columns with a missing value stay plain arrays.
    const typed: QuoteColumns = {
      timestamp: BigInt64Array.from(quotes.map((q) => BigInt(q.timestamp as number))),
      bid: [1688.0, 1688.1, null],
      bid_size: [300, 300, null],
      ask: new Float64Array([1688.5, 1688.4, 1688.5]),
      ask_size: new Int32Array([200, 200, 200]),
      last: [1688.2, 1688.2, null],
      volume: new Float64Array([1_250_000, 1_251_000, 1_250_000]),
    };
    expect(plain(validateQuotes(typed, "UTC"))).toEqual(expected);
  });

  test("naive timestamps are read in the zone passed", () => {
    expect(validateQuotes([{ timestamp: "2024-01-15 09:30:03", bid: 1 }], "Asia/Shanghai").timestamp[0]).toBe(T0);
  });

  test("a duplicate timestamp keeps the last snapshot, sorted ascending", () => {
    const batch = validateQuotes([quote({ timestamp: T0 + SECOND, last: 1 }), quote({ last: 2 }), quote({ timestamp: T0 + SECOND, last: 3 })], "UTC");
    expect(Array.from(batch.order!)).toEqual([1, 2]);
  });
});

describe("validateQuotes: rules", () => {
  test("a crossed book (bid above ask) is refused on field bid", () => {
    expect(issuesOf(() => validateQuotes([quote({ bid: 1689, ask: 1688.5 })], "UTC"))).toEqual([
      { row: 0, field: "bid", message: "bid 1689 is above ask 1688.5" },
    ]);
  });

  test("a locked book (bid equal to ask) is valid", () => {
    expect(validateQuotes([quote({ bid: 1688.5, ask: 1688.5 })], "UTC").length).toBe(1);
  });

  test("bid <= ask applies only where both are present", () => {
    expect(validateQuotes([quote({ bid: 1689, ask: null }), quote({ timestamp: T0 + SECOND, bid: null, ask: 1 })], "UTC").length).toBe(2);
  });

  test.each(["bid", "ask", "last"])("%s must be above zero: 0 and negatives are refused", (field) => {
    for (const value of [0, -1]) {
      // The other prices are left out so only the positivity rule can fire.
      const issues = issuesOf(() => validateQuotes([quote({ bid: null, ask: null, [field]: value })], "UTC"));
      expect(issues).toEqual([{ row: 0, field, message: expect.stringContaining("> 0") }]);
    }
  });

  test.each(["bid_size", "ask_size", "volume"])("%s may be zero", (field) => {
    expect(validateQuotes([quote({ [field]: 0 })], "UTC").length).toBe(1);
  });

  test.each(["bid_size", "ask_size", "volume"])("%s must not be negative", (field) => {
    expect(issuesOf(() => validateQuotes([quote({ [field]: -100 })], "UTC"))).toEqual([
      { row: 0, field, message: expect.stringContaining(">= 0") },
    ]);
  });

  test("NaN, Infinity and strings are refused, not coerced", () => {
    const issues = issuesOf(() =>
      validateQuotes(
        [quote({ bid: NaN }), quote({ timestamp: T0 + SECOND, ask_size: Infinity }), quote({ timestamp: T0 + 2 * SECOND, last: "1688.2" })],
        "UTC",
      ),
    );
    expect(issues.map((issue) => [issue.row, issue.field])).toEqual([
      [0, "bid"],
      [1, "ask_size"],
      [2, "last"],
    ]);
  });

  test("bar fields are unknown in a quote", () => {
    const issues = issuesOf(() => validateQuotes([quote({ open: 1688 })], "UTC"));
    expect(issues).toEqual([{ row: 0, field: "open", message: "unknown field" }]);
  });

  test("every bad snapshot is listed in one ValidationError", () => {
    const rows = Array.from({ length: 10 }, (_, i) => quote({ timestamp: T0 + i * SECOND }));
    rows[1] = quote({ timestamp: T0 + SECOND, bid: 1700 });
    rows[4] = quote({ timestamp: T0 + 4 * SECOND, bid_size: -1 });
    rows[8] = quote({ timestamp: T0 + 8 * SECOND, last: 0 });
    const error = thrownBy(() => validateQuotes(rows, "UTC"), ValidationError);
    expect(error.issues.map((issue) => [issue.row, issue.field]).sort()).toEqual([
      [1, "bid"],
      [4, "bid_size"],
      [8, "last"],
    ]);
    expect(error.message).toContain("row 1 bid");
  });

  test("unequal quote columns are refused", () => {
    expect(issuesOf(() => validateQuotes({ timestamp: [T0], bid: [1, 2] }, "UTC"))).toEqual([
      { field: "bid", message: expect.any(String) },
    ]);
  });
});
