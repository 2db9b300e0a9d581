/**
 * The session cache's rules as the issue states them, computed here from bars alone, as the
 * oracle for what a compaction or a rebuild must leave in a file: later write wins, ascending,
 * nothing older than retentionDays before the newest bar, at most maxRows newest, then the oldest
 * dropped until the file (header included) is at most maxBytes.
 */
import type { Bar } from "../../src/mod.ts";
import { EXPECTED_CSV_HEADER } from "./cache-invariants.ts";

export const DAY_MS = 86_400_000;

export interface RetentionRules {
  retentionDays: number;
  maxRows: number;
  maxBytes: number;
}

/** One bar as a cache line: ISO-8601 UTC with ms, JavaScript's own number text, empty for NULL. */
export function csvLine(bar: Bar): string {
  const cell = (value: number | null) => (value === null ? "" : String(value));
  return `${new Date(bar.timestamp).toISOString()},${cell(bar.open)},${cell(bar.high)},${cell(bar.low)},` +
    `${cell(bar.close)},${cell(bar.volume)},${cell(bar.amount)}\n`;
}

/** Writes in order, the later bar for a timestamp winning, sorted ascending. */
export function latestOf(...writes: readonly (readonly Bar[])[]): Bar[] {
  const byTimestamp = new Map<number, Bar>();
  for (const bars of writes) for (const bar of bars) byTimestamp.set(bar.timestamp, bar);
  return [...byTimestamp.values()].sort((a, b) => a.timestamp - b.timestamp);
}

/** The bars a file keeps of `bars` (unique, ascending) under `rules`. */
export function retentionWindow(bars: readonly Bar[], rules: RetentionRules): Bar[] {
  if (bars.length === 0) return [];
  const cutoff = bars[bars.length - 1]!.timestamp - rules.retentionDays * DAY_MS;
  let from = bars.findIndex((bar) => bar.timestamp >= cutoff);
  from = Math.max(from, bars.length - rules.maxRows);
  let bytes = EXPECTED_CSV_HEADER.length + 1;
  let kept = 0;
  for (let i = bars.length - 1; i >= from; i--) {
    const size = Buffer.byteLength(csvLine(bars[i]!));
    if (bytes + size > rules.maxBytes) break;
    bytes += size;
    kept++;
  }
  return bars.slice(bars.length - kept);
}
