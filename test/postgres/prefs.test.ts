/**
 * Preferences on PostgreSQL (src/postgres/prefs.ts) against SQLite's, call by call: the same
 * values, schemas, refusals and audit entries.
 *
 * Each test runs the same calls on a SQLite database in memory and on a PostgreSQL database of its
 * own, with the clock stopped at the same instant for both (setSystemTime), so timestamps and the
 * audit hashes that cover them must be identical too.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { z } from "zod";
import { outcome, available, closeRecordTests, pair, both, valueOf, errorOf, expectSameAuditLog, T0 } from "../support/postgres-records.ts";

afterEach(closeRecordTests);

describe.skipIf(!available)("preferences: the same values, schemas and refusals as SQLite", () => {
  const chart = z.object({ interval: z.enum(["1m", "5m", "1d"]), symbols: z.array(z.string()).max(3) }).strict();

  test("define, set, get, all (code point order), delete; each set and existing delete audited the same way", async () => {
    const records = await pair("prefs");
    records.sqlite.prefs.define("chart", chart);
    records.pg.prefs.define("chart", chart);
    let at = T0;
    const settings: Array<[string, unknown]> = [
      ["chart", { interval: "5m", symbols: ["600519.SH", "BTC/USDT"] }],
      ["theme", "dark"],
      ["Zeta", [1, 2.5, -3e-7, null, true, { nested: { deeper: ["x"] } }]],
      ["\u{1F600}", "emoji key, after U+FF01 by code point"],
      ["\uFF01", { "\u{1F600}": 1, "\uFF01": 2, b: 3, a: 4 }],
      ["é", null],
      ["theme", "light"],
      ["empty", {}],
    ];
    for (const [key, value] of settings) {
      const set = valueOf(await both(records, (at += 1_000), (side) => side.prefs.set(key, value)));
      expect(set.updated_at).toBe(at);
    }
    for (const key of ["chart", "theme", "Zeta", "\u{1F600}", "missing"]) await both(records, at, (side) => side.prefs.get(key));
    const all = valueOf(await both(records, at, (side) => side.prefs.all()));
    expect(all.map((preference) => preference.key)).toEqual(["Zeta", "chart", "empty", "theme", "é", "\uFF01", "\u{1F600}"]);
    expect(valueOf(await both(records, (at += 1_000), (side) => side.prefs.delete("theme")))).toBe(true);
    expect(valueOf(await both(records, (at += 1_000), (side) => side.prefs.delete("theme")))).toBe(false);
    await both(records, at, (side) => side.prefs.all());
    const entries = await expectSameAuditLog(records, at);
    expect(entries.map((entry) => entry.action)).toEqual([...settings.map(() => "prefs.set"), "prefs.delete"]);
    expect(entries[0]).toMatchObject({ actor: "tradelite", entity: "chart", details: { bytes: 52 } });
  });

  test("bad values and keys are refused with the same ValidationError issues, and nothing is written", async () => {
    const records = await pair("prefs_bad");
    records.sqlite.prefs.define("chart", chart);
    records.pg.prefs.define("chart", chart);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const badValues: unknown[] = [
      { interval: "2m", symbols: ["a", "b", "c", "d"] },
      { interval: "5m", symbols: [], extra: true },
      "not an object",
    ];
    for (const value of badValues) {
      const error = errorOf(await both(records, T0, (side) => side.prefs.set("chart", value)));
      expect(error.code).toBe("VALIDATION");
      expect((error.issues as { field: string }[])[0]!.field.startsWith("value")).toBe(true);
    }
    const unfaithful: unknown[] = [
      Number.NaN, Infinity, undefined, () => 1, 1n, cycle, new Date(T0), new Map([["a", 1]]), { nested: [1, Number.NaN] },
      "\uD800 lone surrogate", "x".repeat(70_000),
    ];
    for (const value of unfaithful) expect(errorOf(await both(records, T0, (side) => side.prefs.set("free", value))).code).toBe("VALIDATION");
    for (const key of ["", "has space", "x".repeat(129), "tab\there", "nul\u0000", 42 as never]) {
      expect(errorOf(await both(records, T0, (side) => side.prefs.set(key, 1))).code).toBe("VALIDATION");
      expect(errorOf(await both(records, T0, (side) => side.prefs.get(key))).code).toBe("VALIDATION");
      expect(errorOf(await both(records, T0, (side) => side.prefs.delete(key))).code).toBe("VALIDATION");
    }
    const notSchema = await Promise.all([
      outcome(() => records.sqlite.prefs.define("k", {} as never)),
      outcome(() => records.pg.prefs.define("k", {} as never)),
    ]);
    expect(notSchema[1]).toEqual(notSchema[0]);
    expect(valueOf(await both(records, T0, (side) => side.prefs.all()))).toEqual([]);
    expect(valueOf(await both(records, T0, (side) => side.audit.head()))).toBeNull();
  });
});
