/**
 * The session cache's promise that its `session_cache` row is true, checked against the file on
 * disk with code that shares nothing with src/cache: the file is read and hashed here, its lines
 * split and its numbers read here, so a writer and a checker cannot agree on the same mistake.
 */
import { expect } from "bun:test";
import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { cacheFileName } from "../../src/cache/file-name.ts";
import type { Bar } from "../../src/mod.ts";
import type { CacheEntry } from "../../src/domain/cache.ts";
import type { SessionCache } from "../../src/cache/session-cache.ts";

/** The header the issue fixes, spelled out here rather than imported. */
export const EXPECTED_CSV_HEADER = "timestamp,open,high,low,close,volume,amount";
/** ISO-8601 UTC with milliseconds, as `Date.prototype.toISOString` writes years 0001-9999. */
const ISO_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Where the cache keeps `symbol`'s file. */
export function cacheFilePath(cache: SessionCache, symbol: string): string {
  return join(cache.settings.dir, cacheFileName(symbol));
}

/** One data line of a cache file, read independently of src/cache/csv.ts. */
export function readCacheLine(line: string): Bar {
  const fields = line.split(",");
  if (fields.length !== 7) throw new Error(`not 7 fields: ${JSON.stringify(line)}`);
  const [iso, ...values] = fields as [string, ...string[]];
  if (!ISO_UTC_MS.test(iso) || new Date(iso).toISOString() !== iso) throw new Error(`not ISO-8601 UTC with ms: ${iso}`);
  const [open, high, low, close, volume, amount] = values.map((text) => {
    if (text === "") return null;
    const value = Number(text);
    if (!Number.isFinite(value)) throw new Error(`not a number: ${JSON.stringify(text)} in ${JSON.stringify(line)}`);
    return value;
  }) as (number | null)[];
  return { timestamp: Date.parse(iso), open: open ?? null, high: high ?? null, low: low ?? null, close: close ?? null, volume: volume ?? null, amount: amount ?? null };
}

/** The data lines of a cache file's text (without their `\n`), header checked and removed. */
export function cacheDataLines(text: string): string[] {
  if (!text.startsWith(`${EXPECTED_CSV_HEADER}\n`)) throw new Error(`bad header: ${JSON.stringify(text.slice(0, 60))}`);
  const body = text.slice(EXPECTED_CSV_HEADER.length + 1);
  if (body === "") return [];
  if (!body.endsWith("\n")) throw new Error("the last line has no \\n");
  return body.slice(0, -1).split("\n");
}

/** Every bar in the symbol's file, in file order (duplicates kept). */
export function cacheFileBars(cache: SessionCache, symbol: string): Bar[] {
  return cacheDataLines(readFileSync(cacheFilePath(cache, symbol), "utf8")).map(readCacheLine);
}

function sha256Hex(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

/**
 * Checks the symbol's session_cache row against its file on disk: checksum (lowercase hex SHA-256
 * of the bytes), size, row count (data lines), relative file_path equal to cacheFileName(symbol),
 * the exact header, `\n` endings, ISO-8601 UTC timestamps with ms, first/last timestamp, the
 * compaction counter below compactEvery. With write-through, and the row in step with
 * market_data, every market_data bar from covered_from on must be in the file with the same
 * values. Returns the row.
 */
export async function expectMetadataTrue(
  cache: SessionCache,
  symbol: string,
  /** Where market_data is read; default the store the cache writes through to. */
  market: { getBars(symbol: string, query: { start: number }): Bar[] | Promise<Bar[]> } = cache.store,
): Promise<CacheEntry> {
  const row = await cache.stats(symbol);
  if (row === null) throw new Error(`no session_cache row for ${symbol}`);
  expect(row.symbol).toBe(symbol);
  expect(isAbsolute(row.file_path)).toBe(false);
  expect(row.file_path).toBe(cacheFileName(symbol));

  const bytes = readFileSync(join(cache.settings.dir, row.file_path));
  expect(row.size_bytes).toBe(bytes.length);
  expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
  expect(row.checksum).toBe(sha256Hex(bytes));

  const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  expect(text.includes("\r")).toBe(false);
  expect(text.startsWith(`${EXPECTED_CSV_HEADER}\n`)).toBe(true);
  expect(text.endsWith("\n")).toBe(true);
  const lines = cacheDataLines(text);
  expect(row.row_count).toBe(lines.length);

  const unreadable: string[] = [];
  let first = Infinity;
  let last = -Infinity;
  const latest = new Map<number, Bar>();
  for (const line of lines) {
    try {
      const bar = readCacheLine(line);
      if (bar.timestamp < first) first = bar.timestamp;
      if (bar.timestamp > last) last = bar.timestamp;
      latest.set(bar.timestamp, bar);
    } catch (error) {
      unreadable.push((error as Error).message);
    }
  }
  expect(unreadable).toEqual([]);
  expect(row.first_timestamp).toBe(lines.length ? first : null);
  expect(row.last_timestamp).toBe(lines.length ? last : null);

  expect(Number.isInteger(row.last_updated)).toBe(true);
  expect(row.last_updated).toBeGreaterThan(Date.UTC(2020, 0, 1));
  expect(row.last_updated).toBeLessThanOrEqual(Date.now());
  expect(row.writes_since_compaction).toBeGreaterThanOrEqual(0);
  expect(row.writes_since_compaction).toBeLessThan(cache.settings.compactEvery);

  if (cache.settings.writeThrough && row.market_version === row.file_version && row.covered_from !== null) {
    // covered_from's promise: from there on the file holds what market_data holds.
    const fromFile = [...latest.values()].filter((bar) => bar.timestamp >= row.covered_from!).sort((a, b) => a.timestamp - b.timestamp);
    expectSameBars(fromFile, await market.getBars(symbol, { start: row.covered_from }));
  }
  return row;
}

/**
 * Bar arrays equal value for value, compared bit for bit (`Object.is`), so a denormal that came
 * back as 0 or a -0 that came back as 0 is a difference. Reports the first differing bar.
 */
export function expectSameBars(actual: readonly Bar[], expected: readonly Bar[]): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const same =
      Object.is(a.timestamp, e.timestamp) &&
      Object.is(a.open, e.open) &&
      Object.is(a.high, e.high) &&
      Object.is(a.low, e.low) &&
      Object.is(a.close, e.close) &&
      Object.is(a.volume, e.volume) &&
      Object.is(a.amount, e.amount);
    if (!same) expect({ index: i, bar: a }).toEqual({ index: i, bar: e });
  }
}
