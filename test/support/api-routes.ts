/**
 * What the route tests of test/api/ share: the first minute they write at, the tokens they call
 * with, a daily file's bars, and readers of the CSV and NDJSON they get back (written by test
 * code, not by src).
 */
import { expect } from "bun:test";
import type { Bar, Store } from "../../src/mod.ts";
import { cacheDataLines, EXPECTED_CSV_HEADER, readCacheLine } from "./cache-invariants.ts";
import { csvLine } from "./cache-retention.ts";
import { readTdxBars } from "./real-data-tdx.ts";

/** 2024-01-02 01:30 UTC (09:30 in Shanghai). */
export const T0 = Date.UTC(2024, 0, 2, 1, 30);
export const MIN = 60_000;
export const TOKEN = "a-long-secret-token-1";
export const BOB_TOKEN = "bobs-long-secret-token-2";
export const TOKENS = [
  { name: "alice", token: TOKEN },
  { name: "bob", token: BOB_TOKEN },
];

/** Bars as the cache file's CSV (header and lines written by test code, not by src). */
export function csvOf(bars: readonly Bar[]): string {
  return `${EXPECTED_CSV_HEADER}\n${bars.map(csvLine).join("")}`;
}

/** A CSV export's bars, read by test code. */
export function barsOfCsv(text: string): Bar[] {
  return cacheDataLines(text).map(readCacheLine);
}

export function barsOfNdjson(text: string): Bar[] {
  expect(text.endsWith("\n")).toBe(true);
  return text.slice(0, -1).split("\n").map((line) => JSON.parse(line) as Bar);
}

/** Naive Shanghai "YYYY-MM-DD HH:MM:SS" as epoch ms. */
export function shanghai(text: string): number {
  return Date.parse(`${text.replace(" ", "T")}+08:00`);
}

export async function tdxBars(file: string): Promise<Bar[]> {
  return (await readTdxBars(file)).map((bar) => ({ ...bar, timestamp: shanghai(bar.timestamp) }));
}

export async function auditSince(store: Store, afterId: number) {
  return (await store.audit.query()).filter((entry) => entry.id > afterId);
}

export async function lastAuditId(store: Store): Promise<number> {
  return (await store.audit.head())?.id ?? 0;
}

/** A body that arrives in chunks, without a Content-Length. */
export function chunked(text: string, chunkSize = 512): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

/** A date's local midnight in Shanghai, where a daily bar of that date is stamped. */
export const shanghaiMidnight = (date: string) => Date.parse(`${date}T00:00:00+08:00`);

/** Two days of an A-share daily file, as a user sends them (dates alone). */
export const DAILY_BARS = [
  { timestamp: "2024-01-02", open: 10, high: 11, low: 9, close: 10.5, volume: 1_000, amount: 10_500 },
  { timestamp: "2024-01-03", open: 10.5, high: 12, low: 10, close: 11, volume: 2_000, amount: 22_000 },
];
