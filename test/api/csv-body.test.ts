/**
 * The streamed CSV upload reader: the same bytes give the same result however the network cuts
 * them, and text that never ends a record is refused early instead of rescanned without end.
 */
import { describe, expect, test } from "bun:test";
import type { Context } from "hono";
import { readBarCsv, MAX_CSV_RECORD_CHARS } from "../../src/api/body.ts";
import { ApiError } from "../../src/api/errors.ts";

const COLUMNS = ["timestamp", "open", "high", "low", "close", "volume", "amount"];

function streamOf(bytes: Uint8Array, cuts: number[]): ReadableStream<Uint8Array> {
  const points = [0, ...cuts.filter((cut) => cut > 0 && cut < bytes.length).sort((a, b) => a - b), bytes.length];
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i >= points.length - 1) return controller.close();
      controller.enqueue(bytes.slice(points[i], points[i + 1]));
      i++;
    },
  });
}

/** The reader's outcome as comparable data: the columns, or the error's status and details. */
async function read(bytes: Uint8Array, cuts: number[] = []): Promise<unknown> {
  const c = { req: { raw: { body: streamOf(bytes, cuts) } } } as unknown as Context;
  try {
    const columns = await readBarCsv(c, "UTC");
    return Object.fromEntries(Object.entries(columns).map(([key, column]) => [key, Array.from(column as ArrayLike<unknown>)]));
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { status: error.status, message: error.message, details: error.details };
  }
}

describe("readBarCsv", () => {
  test("any chunking of the same bytes gives the same result (CRLF, quotes, BOM, blank lines, column order)", async () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    let compared = 0;
    for (let trial = 0; trial < 150; trial++) {
      const newline = random() < 0.5 ? "\r\n" : "\n";
      const quote = (text: string) => (random() < 0.3 ? `"${text}"` : text);
      const order = random() < 0.5 ? COLUMNS : [...COLUMNS].sort(() => random() - 0.5);
      let text = (random() < 0.3 ? "\uFEFF" : "") + order.map(quote).join(",") + newline;
      const rows = 1 + Math.floor(random() * 30);
      for (let i = 0; i < rows; i++) {
        const record: Record<string, string> = {
          timestamp: new Date(Date.UTC(2024, 0, 2) + i * 60_000).toISOString(),
          open: "1", high: "2", low: "0.5", close: random() < 0.2 ? "" : "1.5", volume: "100",
          amount: random() < 0.05 ? 'x""y' : "150",
        };
        text += order.map((column) => quote(record[column]!)).join(",") + (i === rows - 1 && random() < 0.4 ? "" : newline);
        if (random() < 0.1) text += newline;
      }
      const bytes = new TextEncoder().encode(text);
      const whole = await read(bytes);
      for (let k = 0; k < 8; k++) {
        const cuts = Array.from({ length: 1 + Math.floor(random() * 8) }, () => Math.floor(random() * bytes.length));
        expect(await read(bytes, cuts)).toEqual(whole);
        compared++;
      }
    }
    expect(compared).toBe(1200);
  });

  test("a header ending in \\n and rows in \\r\\n read the same whole or cut after the header", async () => {
    const text = `${COLUMNS.join(",")}\n2024-01-02T00:00:00.000Z,1,2,0.5,1.5,100,150\r\n2024-01-02T00:01:00.000Z,1,2,0.5,1.5,100,150\r\n`;
    const bytes = new TextEncoder().encode(text);
    const whole = await read(bytes);
    expect(await read(bytes, [COLUMNS.join(",").length + 1])).toEqual(whole);
    // The line ending is the header's: the rows' \r is then part of their last field, a bad number.
    expect((whole as { status: number }).status).toBe(422);
  });

  test("an unclosed quote, or one endless line, is a 400 once the record passes the limit", async () => {
    const row = "2024-01-02T00:00:00.000Z,1,2,0.5,1.5,100,150\n";
    const head = `${COLUMNS.join(",")}\n"${row}`;
    const body = head + row.repeat(Math.ceil((2 * MAX_CSV_RECORD_CHARS) / row.length));
    const cuts = Array.from({ length: Math.floor(body.length / 65_536) }, (_, i) => (i + 1) * 65_536);
    const unclosed = (await read(new TextEncoder().encode(body), cuts)) as { status: number; message: string };
    expect(unclosed.status).toBe(400);
    expect(unclosed.message).toContain("without ending");
    const endless = (await read(new TextEncoder().encode(`${COLUMNS.join(",")}\n${"1".repeat(MAX_CSV_RECORD_CHARS + 10)}`), [1000, 500_000])) as { status: number };
    expect(endless.status).toBe(400);
  });
});
