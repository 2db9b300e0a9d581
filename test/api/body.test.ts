/**
 * Request bodies (src/api/body.ts): malformed JSON and CSV (400), bodies over the limit (413),
 * content types the route does not read (415); nothing is written. The streamed CSV reader gives
 * the same result however the network cuts the bytes, and refuses early text that never ends a
 * record instead of rescanning it without end.
 *
 * In process through app.request(), over a real SQLite file; answers are checked against what the
 * store holds afterwards, and every refusal for the one error shape and for having written nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Context } from "hono";
import { join } from "node:path";
import { readBarText } from "../../src/api/body.ts";
import { MAX_LINE_CHARS } from "../../src/import/bar-file.ts";
import { ApiError } from "../../src/api/errors.ts";
import { createApp } from "../../src/api/app.ts";
import { call, closeApiFixtures, expectError, minuteBars, openApiFixture, snapshot } from "../support/api.ts";
import { EXPECTED_CSV_HEADER, expectSameBars } from "../support/cache-invariants.ts";
import { csvLine } from "../support/cache-retention.ts";
import { T0, MIN, csvOf, chunked } from "../support/api-routes.ts";

afterEach(closeApiFixtures);

describe("400: malformed bodies", () => {
  test("malformed JSON is a 400 and writes nothing", async () => {
    const f = await openApiFixture();
    await f.store.insertBars("AAA", minuteBars(T0, 2));
    const before = await snapshot(f.store, ["AAA"]);
    for (const [method, path] of [
      ["POST", "/v1/bars/AAA"],
      ["POST", "/v1/quotes/AAA"],
      ["POST", "/v1/artifacts"],
      ["PUT", "/v1/preferences/k"],
      ["POST", "/v1/metrics/m"],
    ] as const) {
      expectError(await call(f.app, method, path, { body: '[{"timestamp": 1,', headers: { "content-type": "application/json" } }), 400, "MALFORMED");
    }
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
  });

  test("a malformed Content-Length is a 400", async () => {
    const f = await openApiFixture();
    expectError(await call(f.app, "POST", "/v1/bars/AAA", { body: "[]", headers: { "content-type": "application/json", "content-length": "12x" } }), 400, "MALFORMED");
    expect(await f.store.getBars("AAA")).toEqual([]);
  });

  describe("CSV uploads", () => {
    const bars = minuteBars(T0, 3);
    const header = EXPECTED_CSV_HEADER;

    async function rejectedCsv(csv: string, status: number, code: string) {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", minuteBars(T0 - 60 * MIN, 2));
      const before = await snapshot(f.store, ["AAA"]);
      const error = expectError(await call(f.app, "POST", "/v1/bars/AAA", { csv }), status, code);
      expect(await snapshot(f.store, ["AAA"])).toEqual(before);
      return error;
    }

    test("a valid CSV upload (any column order, a BOM, CRLF) writes its bars", async () => {
      const f = await openApiFixture();
      const reordered = "close,timestamp,amount,volume,low,high,open\r\n" +
        bars.map((b) => `${b.close},${new Date(b.timestamp).toISOString()},${b.amount},${b.volume},${b.low},${b.high},${b.open}\r\n`).join("");
      const answer = await call(f.app, "POST", "/v1/bars/AAA", { csv: `\uFEFF${reordered}` });
      expect({ status: answer.status, text: answer.text.slice(0, 300) }).toEqual({
        status: 200,
        text: JSON.stringify({ written: 3, file: { profile: "cache", encoding: "utf-8", conversions: [], assumed: [], ignored: [] } }),
      });
      expectSameBars(await f.store.getBars("AAA"), bars);
    });

    test("empty fields are NULL; a header alone writes nothing", async () => {
      const f = await openApiFixture();
      const csv = `${header}\n${new Date(T0).toISOString()},1,2,0.5,1.5,,\n${new Date(T0 + MIN).toISOString()},1.5,1.5,1.5,1.5,7,\n`;
      const answer = await call(f.app, "POST", "/v1/bars/AAA", { csv });
      expect(answer.body).toMatchObject({ written: 2 });
      expect(await f.store.getBars("AAA")).toEqual([
        { timestamp: T0, open: 1, high: 2, low: 0.5, close: 1.5, volume: null, amount: null },
        { timestamp: T0 + MIN, open: 1.5, high: 1.5, low: 1.5, close: 1.5, volume: 7, amount: null },
      ]);
      expect((await call(f.app, "POST", "/v1/bars/BBB", { csv: `${header}\n` })).body).toMatchObject({ written: 0 });
      expect(await f.store.getBars("BBB")).toEqual([]);
    });

    test("a body that is not UTF-8 is a 400", async () => {
      const bytes = new Uint8Array([...new TextEncoder().encode(`${header}\n`), 0xff, 0xfe, 0x0a]);
      const f = await openApiFixture();
      expectError(await call(f.app, "POST", "/v1/bars/AAA", { body: bytes, headers: { "content-type": "text/csv" } }), 400, "MALFORMED");
      expect(await f.store.getBars("AAA")).toEqual([]);
    });

    test("digits as a timestamp: 13 are epoch ms; a date alone (20240115) or 12 digits are a 422, not a guess", async () => {
      const error = await rejectedCsv(`${header}\n${csvLine(bars[0]!)}20240115,1,1,1,1,1,1\n202401150931,1,1,1,1,1,1\n`, 422, "VALIDATION");
      expect(error.details).toEqual([
        { row: 1, field: "timestamp", message: expect.any(String) },
        { row: 2, field: "timestamp", message: expect.any(String) },
      ]);
      const f = await openApiFixture();
      expect((await call(f.app, "POST", "/v1/bars/E", { csv: `${header}\n${T0 + MIN},1,1,1,1,1,1\n` })).body).toMatchObject({ written: 1 });
      expect((await f.store.getBars("E"))[0]!.timestamp).toBe(T0 + MIN);
    });

    test("a bad quote", async () => {
      const line = csvLine(bars[0]!);
      await rejectedCsv(`${header}\n"${line}${csvLine(bars[1]!)}`, 400, "MALFORMED");
    });

    test("a missing price column is a 400 naming it; a file without amount is read (amount NULL)", async () => {
      const error = await rejectedCsv("timestamp,open,high,close,volume,amount\n2024-01-02T01:30:00.000Z,1,2,1.5,10,15\n", 400, "MALFORMED");
      expect(error.message).toContain("no low");
      expect(error.details).toEqual([{ field: "file", message: expect.stringContaining("no low") }]);
      const f = await openApiFixture();
      const answer = await call(f.app, "POST", "/v1/bars/AAA", { csv: "timestamp,open,high,low,close,volume\n2024-01-02T01:30:00.000Z,1,2,0.5,1.5,10\n" });
      expect(answer.body).toMatchObject({ written: 1, file: { profile: "tdx", assumed: [expect.stringContaining("volume read as shares")] } });
      expect((await f.store.getBars("AAA"))[0]!.amount).toBeNull();
    });

    test("a row with the wrong number of fields", async () => {
      const error = await rejectedCsv(`${header}\n${csvLine(bars[0]!)}${csvLine(bars[1]!).replace("\n", ",9\n")}`, 400, "MALFORMED");
      expect(error.details).toEqual([{ row: 1, message: expect.any(String) }]);
    });

    test("an empty body", async () => {
      const error = await rejectedCsv("", 400, "MALFORMED");
      expect(error.message).toContain("no header row");
    });

    test("1 bad value among 1000 rows is a 422 naming row and field, and writes none of the 1000", async () => {
      const many = minuteBars(T0, 1_000);
      const lines = many.map(csvLine);
      lines[637] = lines[637]!.replace(/,([^,]+),/, ",abc,"); // open of row 637
      const error = await rejectedCsv(`${header}\n${lines.join("")}`, 422, "VALIDATION");
      expect(error.details).toEqual([{ row: 637, field: "open", message: expect.any(String) }]);
    });

    test("1 invalid bar (low above high) among 1000 rows is a 422 naming it, and writes none", async () => {
      const many = minuteBars(T0, 1_000);
      many[421] = { ...many[421]!, low: many[421]!.high! + 1 };
      const error = await rejectedCsv(csvOf(many), 422, "VALIDATION");
      expect(error.details).toContainEqual({ row: 421, field: "low", message: expect.any(String) });
      expect((error.details as { row: number }[]).every((issue) => issue.row === 421)).toBe(true);
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe("vendor files as CSV uploads", () => {
  const tushare = "ts_code,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount\n600000.SH,20240103,6.6,6.62,6.56,6.59,6.61,-0.02,-0.3026,272683.03,179471.548\n";

  test("a Tushare file of the route's symbol is read with its units converted, and the answer says so", async () => {
    const f = await openApiFixture({ timezone: "Asia/Shanghai" });
    const answer = await call(f.app, "POST", "/v1/bars/600000.SH?interval=1d", { csv: tushare });
    expect(answer.body).toEqual({
      written: 1,
      file: { profile: "tushare", encoding: "utf-8", conversions: ["vol: lots (手) x 100 -> shares", "amount: thousands of yuan (千元) x 1000 -> yuan"], assumed: [], ignored: ["pre_close", "change", "pct_chg"] },
    });
    expect((await f.store.getBars("600000.SH", { interval: "1d", source: "stored" }))[0]).toMatchObject({ volume: 27_268_303, amount: 179_471_548 });
  });

  test("a file naming another symbol is a 422 naming it; nothing written", async () => {
    const f = await openApiFixture({ timezone: "Asia/Shanghai" });
    const error = expectError(await call(f.app, "POST", "/v1/bars/000001.SZ?interval=1d", { csv: tushare }), 422, "VALIDATION");
    expect(error.message).toContain("the file holds bars of 600000.SH; this route writes 000001.SZ");
    expect(await f.store.overview()).toEqual([]);
  });

  test("a file of dates alone is the daily series without ?interval=1d, as the CLI stores it; the cache refuses it", async () => {
    const f = await openApiFixture({ timezone: "Asia/Shanghai", withCache: true });
    const daily = "date,open,high,low,close,volume\n2024-01-02,10,10.5,9.5,10.2,1000\n2024-01-03,10.2,10.4,10,10.1,900\n";
    expect((await call(f.app, "POST", "/v1/bars/D", { csv: daily })).body).toMatchObject({ written: 2, file: { profile: "tdx" } });
    expect(await f.store.getBars("D")).toEqual([]);
    expect((await f.store.getBars("D", { interval: "1d", source: "stored" })).map((bar) => bar.close)).toEqual([10.2, 10.1]);
    expect(expectError(await call(f.app, "POST", "/v1/cache/D", { csv: daily }), 422, "VALIDATION").message).toContain("the session cache holds minutes");
  });

  test("charset names the encoding (gbk, gb2312, gb18030, utf-8, utf8); another is a 415 before reading", async () => {
    const f = await openApiFixture({ timezone: "Asia/Shanghai" });
    const gbk = await Bun.file(join(import.meta.dir, "..", "fixtures", "vendor", "SH#601003-tdx-export-raw-gbk.txt")).bytes();
    for (const charset of ["gbk", "GB2312", "gb18030"]) {
      const answer = await call(f.app, "POST", "/v1/bars/601003.SH?interval=1d", { body: gbk, headers: { "content-type": `text/csv; charset=${charset}` } });
      expect(answer.body).toMatchObject({ written: 2, file: { profile: "tdx", encoding: "gbk" } });
    }
    // Read as UTF-8 when told so, the GBK bytes are a 400 naming the body's encoding.
    expectError(await call(f.app, "POST", "/v1/bars/601003.SH?interval=1d", { body: gbk, headers: { "content-type": "text/csv; charset=utf8" } }), 400, "MALFORMED");
    expectError(await call(f.app, "POST", "/v1/bars/601003.SH?interval=1d", { body: gbk, headers: { "content-type": "text/csv; charset=latin1" } }), 415);
  });
});

describe("413: bodies over maxBodyBytes", () => {
  const limit = 4_096;
  const big = minuteBars(T0, 100); // far over 4 KiB as JSON

  test("declared by Content-Length: refused, nothing written; at the limit exactly it is read", async () => {
    const f = await openApiFixture({ api: { maxBodyBytes: limit } });
    const text = JSON.stringify(big);
    expect(text.length).toBeGreaterThan(limit);
    const before = await snapshot(f.store, ["AAA"]);
    const error = expectError(
      await call(f.app, "POST", "/v1/bars/AAA", { body: text, headers: { "content-type": "application/json", "content-length": String(text.length) } }),
      413,
      "PAYLOAD_TOO_LARGE",
    );
    expect(error.message).toContain(String(limit));
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);

    const small = JSON.stringify(minuteBars(T0, 2));
    const padded = small.padEnd(limit, " ");
    const atLimit = await call(f.app, "POST", "/v1/bars/AAA", { body: padded, headers: { "content-type": "application/json", "content-length": String(limit) } });
    expect(atLimit.body).toEqual({ written: 2 });
    const over = `${padded} `;
    expectError(await call(f.app, "POST", "/v1/bars/BBB", { body: over, headers: { "content-type": "application/json", "content-length": String(limit + 1) } }), 413, "PAYLOAD_TOO_LARGE");
    expect(await f.store.getBars("BBB")).toEqual([]);
  });

  test("a chunked body without Content-Length is counted as it streams: 413, nothing written", async () => {
    const f = await openApiFixture({ api: { maxBodyBytes: limit } });
    const before = await snapshot(f.store, ["AAA"]);
    for (const [method, path, text] of [
      ["POST", "/v1/bars/AAA", JSON.stringify(big)],
      ["POST", "/v1/quotes/AAA", JSON.stringify(big.map((bar) => ({ timestamp: bar.timestamp, bid: bar.low, ask: bar.high, last: bar.close })))],
      ["PUT", "/v1/preferences/k", JSON.stringify({ value: "x".repeat(limit * 2) })],
    ] as const) {
      expect(text.length).toBeGreaterThan(limit);
      expectError(await call(f.app, method, path, { body: chunked(text), headers: { "content-type": "application/json" } }), 413, "PAYLOAD_TOO_LARGE");
    }
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
    // A chunked body under the limit goes through.
    const fine = await call(f.app, "POST", "/v1/bars/AAA", { body: chunked(JSON.stringify(minuteBars(T0, 2)), 64), headers: { "content-type": "application/json" } });
    expect(fine.body).toEqual({ written: 2 });
  });

  test("a chunked CSV upload over the limit is a 413, nothing written", async () => {
    const f = await openApiFixture({ api: { maxBodyBytes: limit } });
    const answer = await call(f.app, "POST", "/v1/bars/AAA", { body: chunked(csvOf(big)), headers: { "content-type": "text/csv" } });
    expectError(answer, 413, "PAYLOAD_TOO_LARGE");
    expect(await f.store.getBars("AAA")).toEqual([]);
  });

  test("createApp refuses a maxBodyBytes that is not a positive whole number", async () => {
    const f = await openApiFixture();
    for (const maxBodyBytes of [0, -1, 1.5, Number.NaN]) expect(() => f.rebuild({ maxBodyBytes })).toThrow(TypeError);
  });
});

// ---------------------------------------------------------------------------------------------

describe("415: unsupported Content-Type", () => {
  test("text/plain to the bar upload (and to JSON-only routes) is a 415; nothing written", async () => {
    const f = await openApiFixture();
    const before = await snapshot(f.store, ["AAA"]);
    const body = JSON.stringify(minuteBars(T0, 2));
    expectError(await call(f.app, "POST", "/v1/bars/AAA", { body, headers: { "content-type": "text/plain" } }), 415, "UNSUPPORTED_MEDIA_TYPE");
    expectError(await call(f.app, "POST", "/v1/bars/AAA", { body }), 415, "UNSUPPORTED_MEDIA_TYPE"); // fetch's default text/plain
    expectError(await call(f.app, "POST", "/v1/quotes/AAA", { body: "[]", headers: { "content-type": "text/csv" } }), 415, "UNSUPPORTED_MEDIA_TYPE");
    expectError(await call(f.app, "PUT", "/v1/preferences/k", { body: '{"value":1}', headers: { "content-type": "application/xml" } }), 415, "UNSUPPORTED_MEDIA_TYPE");
    expect(await snapshot(f.store, ["AAA"])).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------

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
  const c = { req: { raw: { body: streamOf(bytes, cuts) }, header: () => "text/csv" } } as unknown as Context;
  try {
    const { bars: columns } = await readBarText(c, { timeZone: "UTC", symbol: "X" });
    return Object.fromEntries(Object.entries(columns).map(([key, column]) => [key, Array.from(column as ArrayLike<unknown>)]));
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { status: error.status, message: error.message, details: error.details };
  }
}

describe("readBarText", () => {
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

  test("a header ending in \\n and rows in \\r\\n read the same whole or cut after the header, each line ending dropped", async () => {
    const text = `${COLUMNS.join(",")}\n2024-01-02T00:00:00.000Z,1,2,0.5,1.5,100,150\r\n2024-01-02T00:01:00.000Z,1,2,0.5,1.5,100,150\r\n`;
    const bytes = new TextEncoder().encode(text);
    const whole = await read(bytes);
    expect(await read(bytes, [COLUMNS.join(",").length + 1])).toEqual(whole);
    // Line endings may mix: each line's own is dropped.
    expect((whole as { amount: number[] }).amount).toEqual([150, 150]);
  });

  test("an unclosed quote, or one endless line, is a 400", async () => {
    const row = "2024-01-02T00:00:00.000Z,1,2,0.5,1.5,100,150\n";
    const head = `${COLUMNS.join(",")}\n"${row}`;
    const body = head + row.repeat(Math.ceil((2 * MAX_LINE_CHARS) / row.length));
    const cuts = Array.from({ length: Math.floor(body.length / 65_536) }, (_, i) => (i + 1) * 65_536);
    const unclosed = (await read(new TextEncoder().encode(body), cuts)) as { status: number; message: string };
    expect(unclosed.status).toBe(400);
    // A record is one line: the unclosed quote spoils its own line, which is reported.
    expect(unclosed.message).toContain("Quoted field unterminated");
    const endless = (await read(new TextEncoder().encode(`${COLUMNS.join(",")}\n${"1".repeat(MAX_LINE_CHARS + 10)}`), [1000, 500_000])) as { status: number };
    expect(endless.status).toBe(400);
  });
});
