/**
 * Cache file names (src/cache/file-name.ts): a reversible, path-safe encoding of the symbol.
 * Hostile and ordinary symbols are stored through a real SessionCache and every file it creates
 * must sit directly in the cache folder; generated symbols round-trip and land as one entry each
 * in a real folder; names cacheFileName never makes are refused by symbolOfCacheFile.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { cacheFileName, symbolOfCacheFile } from "../../src/cache/file-name.ts";
import { isSymbol, ValidationError, type Bar } from "../../src/mod.ts";
import { randomBars, seededRandom } from "../support/bars.ts";
import { closeCacheFixtures, openCacheFixture } from "../support/cache-fixture.ts";
import { cacheFileBars, expectMetadataTrue, expectSameBars } from "../support/cache-invariants.ts";

const T0 = Date.UTC(2024, 0, 2, 1, 31);

afterEach(closeCacheFixtures);

/** Every file and folder under `dir`, relative to it. */
function walk(dir: string, prefix = ""): string[] {
  return readdirSync(join(dir, prefix)).flatMap((name) => {
    const relative = prefix ? `${prefix}/${name}` : name;
    return statSync(join(dir, relative)).isDirectory() ? [`${relative}/`, ...walk(dir, relative)] : [relative];
  });
}

const HOSTILE = ["BTC/USDT", "600519.SH", "ES=F", "^GSPC", "../x", "a/../../b", "..", ".", "贵州茅台", "btc", "BTC", "%2F", "x.csv.tmp", "-", "CON", "nul"];

describe("path safety through the cache", () => {
  test("hostile and ordinary symbols store and read back, each in its own file directly inside the cache folder", async () => {
    const fx = openCacheFixture();
    // `a/../../b` from the cache folder would be a sibling of the temp dir itself.
    const escaped = resolve(fx.cacheDir, "a/../../b");
    expect(existsSync(escaped)).toBe(false);
    const stored = new Map<string, Bar[]>();
    for (const [i, symbol] of HOSTILE.entries()) {
      const bars = randomBars([T0 + i * 60_000, T0 + (i + 1) * 60_000], i + 1, 10 + i);
      stored.set(symbol, bars);
      await fx.cache.storeBars(symbol, bars);
      await expectMetadataTrue(fx.cache, symbol);
    }
    for (const [symbol, bars] of stored) {
      expectSameBars(await fx.cache.getBars(symbol), bars);
      expectSameBars(cacheFileBars(fx.cache, symbol), bars);
    }

    const names = readdirSync(fx.cacheDir).sort();
    expect(names).toEqual(HOSTILE.map(cacheFileName).sort());
    expect(new Set(names).size).toBe(HOSTILE.length);
    for (const name of names) {
      expect(name).toMatch(/^[A-Z0-9_%-][A-Z0-9_.%-]*\.csv$/);
      expect(statSync(join(fx.cacheDir, name)).isFile()).toBe(true);
      expect(HOSTILE).toContain(symbolOfCacheFile(name)!);
    }
    // Nothing but the database and the flat cache folder was created in the temp dir, and
    // nothing escaped it.
    const tree = walk(fx.root).filter((path) => !/^trading\.db(-wal|-shm)?$/.test(path));
    expect(tree.sort()).toEqual(["session_cache/", ...names.map((name) => `session_cache/${name}`)].sort());
    expect(existsSync(escaped)).toBe(false);
    expect(walk(fx.root)).toContain("trading.db");

    // `btc` and `BTC` are two files with two histories.
    expect(cacheFileName("btc")).not.toBe(cacheFileName("BTC"));
    expect(cacheFileName("btc").toLowerCase()).not.toBe(cacheFileName("BTC").toLowerCase());
    expectSameBars(await fx.cache.getBars("btc"), stored.get("btc")!);
    expectSameBars(await fx.cache.getBars("BTC"), stored.get("BTC")!);

    // A new instance verifies every file and finds nothing to repair.
    const { cache, events } = fx.open();
    for (const [symbol, bars] of stored) expectSameBars(await cache.getBars(symbol), bars);
    expect(events).toEqual([]);
    expect((await cache.list()).map((row) => row.file_path).sort()).toEqual(names);
  });

  test("the encoded names of the issue's examples", () => {
    const fx = openCacheFixture();
    expect(cacheFileName("600519.SH")).toBe("600519.SH.csv");
    expect(cacheFileName("BTC/USDT")).toBe("BTC%2FUSDT.csv");
    expect(cacheFileName("ES=F")).toBe("ES%3DF.csv");
    expect(cacheFileName("..")).toBe("%2E..csv");
    expect(cacheFileName(".")).toBe("%2E.csv");
    // Each is a single entry of the folder when created there.
    for (const symbol of ["600519.SH", "BTC/USDT", "ES=F", "..", "."]) writeFileSync(join(fx.cacheDir, cacheFileName(symbol)), symbol);
    expect(readdirSync(fx.cacheDir).length).toBe(5);
  });
});

describe("round trip", () => {
  /** Printable pieces a symbol may be made of: ASCII, Latin, CJK, an astral emoji, and the encoder's own `%`. */
  const PIECES = [
    ...Array.from({ length: 94 }, (_, i) => String.fromCharCode(0x21 + i)),
    "é", "Ä", "ß", "€", "Ω", "贵", "州", "茅", "台", "📈", "%", "%2F", ".", "..", "/",
  ];

  test("cacheFileName and symbolOfCacheFile invert each other for 3,000 seeded symbols, each a distinct single entry in a real folder", () => {
    const fx = openCacheFixture();
    const random = seededRandom(20240102);
    const symbols = new Set<string>();
    while (symbols.size < 3_000) {
      const length = 1 + Math.floor(random() * 12);
      let symbol = "";
      for (let i = 0; i < length; i++) symbol += PIECES[Math.floor(random() * PIECES.length)];
      if (isSymbol(symbol)) symbols.add(symbol);
    }
    const names = new Set<string>();
    for (const symbol of symbols) {
      const name = cacheFileName(symbol);
      expect(symbolOfCacheFile(name)).toBe(symbol);
      expect(name.includes("/")).toBe(false);
      expect(name.startsWith(".")).toBe(false);
      expect(name).toMatch(/^[A-Z0-9_.%-]+\.csv$/);
      names.add(name.toLowerCase());
      writeFileSync(join(fx.cacheDir, name), "");
    }
    // Distinct even where case is folded (macOS, Windows).
    expect(names.size).toBe(symbols.size);
    expect(readdirSync(fx.cacheDir).length).toBe(symbols.size);
  });

  test.each([
    ["lower-case hex", "BTC%2fUSDT.csv"],
    ["a temporary file", "x.csv.tmp"],
    ["a temporary file of a real name", `${"600519.SH"}.csv.tmp`],
    ["a bad escape", "%ZZ.csv"],
    ["a cut escape", "AB%2.csv"],
    ["a lone %", "%.csv"],
    ["a literal byte spelled as an escape", "%41.csv"],
    ["a lower-case letter left literal", "btc.csv"],
    ["a leading dot", ".x.csv"],
    ["no extension", "600519.SH"],
    ["an upper-case extension", "600519.SH.CSV"],
    ["an empty symbol", ".csv"],
    ["invalid UTF-8", "%E8%B4.csv"],
    ["an encoded symbol the symbol rule refuses", "A%20B.csv"],
  ])("symbolOfCacheFile refuses %s (%s)", (_, name) => {
    const fx = openCacheFixture();
    writeFileSync(join(fx.cacheDir, name), "");
    expect(symbolOfCacheFile(name)).toBeUndefined();
  });

  test("a symbol whose encoding would not fit a file name is refused with a ValidationError and nothing is written; 26 CJK characters still fit", async () => {
    const fx = openCacheFixture();
    const error = (() => {
      try {
        cacheFileName("贵".repeat(64));
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]!.field).toBe("symbol");
    // The cache refuses it before writing anything, market_data included.
    for (const call of [
      () => fx.cache.storeBars("贵".repeat(64), randomBars([T0], 1)),
      () => fx.cache.compact("贵".repeat(64)),
      () => fx.cache.rebuild("贵".repeat(64)),
    ]) {
      await expect(call()).rejects.toBeInstanceOf(ValidationError);
    }
    expect(fx.db.overview()).toEqual([]);
    expect(readdirSync(fx.cacheDir)).toEqual([]);
    // 26 CJK characters are 78 bytes, 234 characters encoded: still fits.
    const longest = "贵".repeat(26);
    await fx.cache.storeBars(longest, randomBars([T0], 1));
    await expectMetadataTrue(fx.cache, longest);
    expect(cacheFileName(longest).length).toBe(26 * 9 + 4);
    expect(cacheFileName("A".repeat(64))).toBe(`${"A".repeat(64)}.csv`);
  });
});
