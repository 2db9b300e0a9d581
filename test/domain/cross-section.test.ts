/**
 * The cross-section's query rules (src/domain/cross-section.ts): the symbol order every backend
 * sorts by, and which stored day a `1d` cross-section may reach, across a daylight-saving change.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { compareSymbols, readCrossSectionQuery } from "../../src/domain/cross-section.ts";

describe("compareSymbols", () => {
  test("is UTF-8 byte order (SQLite's BINARY, PostgreSQL's C) on any strings, astral characters included", () => {
    const byBytes = (a: string, b: string) => Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" }), (a, b) => {
        expect(Math.sign(compareSymbols(a, b))).toBe(byBytes(a, b));
      }),
      { numRuns: 2_000 },
    );
    // Where UTF-16 order differs: U+FF21 is before U+1F600 by code point, after it by code unit.
    expect(compareSymbols("\uFF21", "\u{1F600}")).toBeLessThan(0);
    expect("\uFF21" < "\u{1F600}").toBe(false);
  });
});

describe("readCrossSectionQuery", () => {
  test("a date alone is the day's last ms; 1d reaches the days ended by at, in the zone, across a DST change", () => {
    const ny = "America/New_York";
    // 2024-03-10 is 23 hours long in New York.
    const end = readCrossSectionQuery({ at: "2024-03-10" }, ny);
    expect(end.at).toBe(Date.parse("2024-03-11T00:00:00-04:00") - 1);
    expect(end.through).toBe(end.at);
    const daily = readCrossSectionQuery({ at: "2024-03-10", interval: "1d" }, ny);
    // The 10th has ended: its stamp (its local midnight) is reachable, the 11th's is not.
    expect(daily.through).toBe(Date.parse("2024-03-11T00:00:00-04:00") - 1);
    const intraday = readCrossSectionQuery({ at: "2024-03-10 12:00", interval: "1d" }, ny);
    expect(intraday.through).toBe(Date.parse("2024-03-10T00:00:00-05:00") - 1);
    // Exactly at a midnight: the day before has ended, the new one has not.
    const midnight = readCrossSectionQuery({ at: Date.parse("2024-03-10T00:00:00-05:00"), interval: "1d" }, ny);
    expect(midnight.through).toBe(Date.parse("2024-03-10T00:00:00-05:00") - 1);
  });

  test("the symbols read are a copy of the caller's list", () => {
    const symbols = ["A", "B"];
    const read = readCrossSectionQuery({ at: 0, symbols }, "UTC");
    symbols.push("C");
    expect(read.symbols).toEqual(["A", "B"]);
  });
});
