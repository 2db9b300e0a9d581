/**
 * The text of a bar read's answer (src/domain/bar-text.ts), which the API's thread and the
 * sqlite-worker's readers both write: chunks joined as the API joins them are the whole answer.
 */
import { describe, expect, test } from "bun:test";
import type { Bar } from "../../src/domain/bar.ts";
import { barTextChunk } from "../../src/domain/bar-text.ts";
import { formatBarCsv } from "../../src/domain/bar-format.ts";

const bars: Bar[] = [
  { timestamp: Date.UTC(2024, 0, 2, 1, 31), open: 10.1, high: 10.2, low: 10, close: 10.15, volume: 1200, amount: 12180.5 },
  { timestamp: Date.UTC(2024, 0, 2, 1, 32), open: 0.1 + 0.2, high: 1e21, low: -0, close: 5e-7, volume: null, amount: null },
  { timestamp: Date.UTC(2024, 0, 2, 1, 33), open: 1, high: 1, low: 1, close: 1, volume: 0, amount: 0, filled: true } as Bar,
];

describe("barTextChunk", () => {
  test("JSON chunks joined by commas inside brackets are JSON.stringify of the rows, wherever they are cut", () => {
    for (let cut = 0; cut <= bars.length; cut++) {
      const chunks = [bars.slice(0, cut), bars.slice(cut)].filter((chunk) => chunk.length > 0).map((chunk) => barTextChunk(chunk, "json"));
      expect(`[${chunks.join(",")}]`).toBe(JSON.stringify(bars));
    }
  });

  test("CSV chunks are the export's lines (the header is the answer's), NDJSON one JSON object a line", () => {
    expect(barTextChunk(bars, "csv")).toBe(bars.map(formatBarCsv).join(""));
    expect(barTextChunk(bars.slice(1, 2), "csv")).toBe("2024-01-02T01:32:00.000Z,0.30000000000000004,1e+21,0,5e-7,,\n");
    expect(barTextChunk(bars, "ndjson")).toBe(bars.map((bar) => `${JSON.stringify(bar)}\n`).join(""));
    expect(barTextChunk([], "json")).toBe("");
  });
});
