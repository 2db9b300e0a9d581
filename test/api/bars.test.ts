/**
 * /v1/bars/{symbol} (src/api/bars.ts): JSON and CSV uploads, reads in every format and interval, the latest bar,
 * deletes, the real TDX exports through the API, and the daily series (?interval=1d on POST and
 * DELETE, ?source= on GET)
 *
 * In process through app.request(), over a real SQLite file; answers are checked against what the
 * store holds afterwards, and every refusal for the one error shape and for having written nothing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { call, closeApiFixtures, expectError, minuteBars, openApiFixture, resample, snapshot } from "../support/api.ts";
import { EXPECTED_CSV_HEADER, expectSameBars } from "../support/cache-invariants.ts";
import { realDataPath, TDX_ETF_5MIN_DESC, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";
import { T0, MIN, csvOf, barsOfCsv, barsOfNdjson, tdxBars, DAILY_BARS, shanghaiMidnight } from "../support/api-routes.ts";

afterEach(closeApiFixtures);

describe("/v1/bars/{symbol}", () => {
  const bars = minuteBars(T0, 12);

  describe("POST (JSON)", () => {
    test("writes the bars; the store reads back exactly what was sent", async () => {
      const f = await openApiFixture();
      const answer = await call(f.app, "POST", "/v1/bars/600519.SH", { json: bars });
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ written: bars.length });
      expectSameBars(await f.store.getBars("600519.SH"), bars);
    });

    test("ISO-8601 timestamps (with an offset, or naive in the store's zone) and nulls", async () => {
      const f = await openApiFixture({ timezone: "Asia/Shanghai" });
      const answer = await call(f.app, "POST", "/v1/bars/X", {
        json: [
          { timestamp: "2024-01-02 09:31", open: 1, high: 2, low: 0.5, close: 1.5, volume: null, amount: null },
          { timestamp: "2024-01-02T01:32:00Z", open: 1.5, high: 1.5, low: 1.5, close: 1.5 },
        ],
      });
      expect(answer.body).toEqual({ written: 2 });
      const stored = await f.store.getBars("X");
      expect(stored).toEqual([
        { timestamp: T0 + MIN, open: 1, high: 2, low: 0.5, close: 1.5, volume: null, amount: null },
        { timestamp: T0 + 2 * MIN, open: 1.5, high: 1.5, low: 1.5, close: 1.5, volume: null, amount: null },
      ]);
    });

    test("an upsert: the same timestamp again replaces the bar, and counts once", async () => {
      const f = await openApiFixture();
      await call(f.app, "POST", "/v1/bars/AAA", { json: bars.slice(0, 3) });
      const changed = { ...bars[1]!, close: bars[1]!.open, volume: 1 };
      const answer = await call(f.app, "POST", "/v1/bars/AAA", { json: [changed, changed] });
      expect(answer.body).toEqual({ written: 1 });
      expectSameBars(await f.store.getBars("AAA"), [bars[0]!, changed, bars[2]!]);
    });

    test("a percent-encoded symbol with a slash or non-ASCII letters is the decoded symbol", async () => {
      const f = await openApiFixture();
      for (const symbol of ["BTC/USDT", "贵州茅台"]) {
        const answer = await call(f.app, "POST", `/v1/bars/${encodeURIComponent(symbol)}`, { json: bars.slice(0, 2) });
        expect(answer.body).toEqual({ written: 2 });
        expectSameBars(await f.store.getBars(symbol), bars.slice(0, 2));
        expect((await call(f.app, "GET", `/v1/bars/${encodeURIComponent(symbol)}/latest`)).body).toEqual(bars[1]!);
      }
    });
  });

  describe("GET", () => {
    test("format=json (the default) is the store's bars", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const plain = await call(f.app, "GET", "/v1/bars/AAA");
      expect(plain.status).toBe(200);
      expect(plain.headers.get("content-type")).toStartWith("application/json");
      expectSameBars(plain.body, bars);
      const explicit = await call(f.app, "GET", "/v1/bars/AAA?format=json");
      expect(explicit.text).toBe(plain.text);
      expect(plain.body).toEqual(await f.store.getBars("AAA"));
    });

    test("an unknown symbol has no bars: [] (json), the header alone (csv), nothing (ndjson)", async () => {
      const f = await openApiFixture();
      expect((await call(f.app, "GET", "/v1/bars/NOPE")).body).toEqual([]);
      expect((await call(f.app, "GET", "/v1/bars/NOPE?format=csv")).text).toBe(`${EXPECTED_CSV_HEADER}\n`);
      expect((await call(f.app, "GET", "/v1/bars/NOPE?format=ndjson")).text).toBe("");
    });

    test("format=csv is the cache file's format, value for value", async () => {
      const f = await openApiFixture();
      const withNulls = [...bars, { timestamp: T0 + 100 * MIN, open: 5, high: 5, low: 5, close: 5, volume: null, amount: null }];
      await f.store.insertBars("AAA", withNulls);
      const answer = await call(f.app, "GET", "/v1/bars/AAA?format=csv");
      expect(answer.status).toBe(200);
      expect(answer.headers.get("content-type")).toBe("text/csv; charset=utf-8");
      expect(answer.text).toBe(csvOf(withNulls));
      expectSameBars(barsOfCsv(answer.text), await f.store.getBars("AAA"));
    });

    test("format=ndjson is one bar object per line", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const answer = await call(f.app, "GET", "/v1/bars/AAA?format=ndjson");
      expect(answer.status).toBe(200);
      expect(answer.headers.get("content-type")).toBe("application/x-ndjson");
      expectSameBars(barsOfNdjson(answer.text), await f.store.getBars("AAA"));
      expect(barsOfNdjson(answer.text)).toEqual(bars);
    });

    test("start and end are inclusive, as epoch ms or ISO-8601", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const byMs = await call(f.app, "GET", `/v1/bars/AAA?start=${T0 + 2 * MIN}&end=${T0 + 5 * MIN}`);
      expectSameBars(byMs.body, bars.slice(2, 6));
      const iso = (ms: number) => encodeURIComponent(new Date(ms).toISOString());
      const byIso = await call(f.app, "GET", `/v1/bars/AAA?start=${iso(T0 + 2 * MIN)}&end=${iso(T0 + 5 * MIN)}&format=csv`);
      expectSameBars(barsOfCsv(byIso.text), bars.slice(2, 6));
      const openEnded = await call(f.app, "GET", `/v1/bars/AAA?start=${T0 + 9 * MIN}&format=ndjson`);
      expectSameBars(barsOfNdjson(openEnded.text), bars.slice(9));
    });

    test("naive ISO timestamps in the query are read in the store's zone", async () => {
      const f = await openApiFixture({ timezone: "Asia/Shanghai" });
      await f.store.insertBars("AAA", bars);
      const answer = await call(f.app, "GET", `/v1/bars/AAA?start=${encodeURIComponent("2024-01-02 09:33")}&end=${encodeURIComponent("2024-01-02 09:34")}`);
      expectSameBars(answer.body, bars.slice(3, 5));
    });

    test("order=desc and limit: the newest first, at most limit", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const desc = await call(f.app, "GET", "/v1/bars/AAA?order=desc&limit=3");
      expectSameBars(desc.body, [bars[11]!, bars[10]!, bars[9]!]);
      const asc = await call(f.app, "GET", "/v1/bars/AAA?order=asc&limit=2&format=csv");
      expectSameBars(barsOfCsv(asc.text), bars.slice(0, 2));
      const nd = await call(f.app, "GET", "/v1/bars/AAA?order=desc&limit=4&format=ndjson");
      expectSameBars(barsOfNdjson(nd.text), bars.slice(8).reverse());
    });

    test("interval resamples: open first, high max, low min, close last, sums (start-stamped)", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const expected = resample(bars, 5 * MIN, "start");
      expect(expected.length).toBe(3);
      const answer = await call(f.app, "GET", "/v1/bars/AAA?interval=5m");
      expect(answer.status).toBe(200);
      expectSameBars(answer.body, expected);
      expect(answer.body).toEqual(await f.store.getBars("AAA", { interval: "5m" }));
      const csv = await call(f.app, "GET", "/v1/bars/AAA?interval=5m&format=csv");
      expectSameBars(barsOfCsv(csv.text), expected);
      const hourly = await call(f.app, "GET", "/v1/bars/AAA?interval=1h&format=ndjson");
      expectSameBars(barsOfNdjson(hourly.text), resample(bars, 60 * MIN, "start"));
    });

    test("barTimestamp=end buckets (start, end] and labels each bucket by its end", async () => {
      const f = await openApiFixture();
      const endStamped = minuteBars(T0 + MIN, 10);
      await f.store.insertBars("AAA", endStamped);
      const expected = resample(endStamped, 5 * MIN, "end");
      expect(expected.map((bar) => bar.timestamp)).toEqual([T0 + 5 * MIN, T0 + 10 * MIN]);
      const answer = await call(f.app, "GET", "/v1/bars/AAA?interval=5m&barTimestamp=end");
      expectSameBars(answer.body, expected);
    });

    test("interval with a range, order and limit together", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const answer = await call(f.app, "GET", `/v1/bars/AAA?interval=5m&start=${T0 + MIN}&order=desc&limit=2`);
      const expected = resample(bars.slice(1), 5 * MIN).reverse().slice(0, 2);
      expectSameBars(answer.body, expected);
    });
  });

  describe("GET /v1/bars/{symbol}/latest", () => {
    test("the newest bar, as the store has it", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", [bars[3]!, bars[7]!, bars[1]!]);
      const answer = await call(f.app, "GET", "/v1/bars/AAA/latest");
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual(bars[7]!);
      expect(answer.body).toEqual(await f.store.latestBar("AAA"));
    });

    test("404 for a symbol without bars", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const error = expectError(await call(f.app, "GET", "/v1/bars/ZZZ/latest"), 404, "NOT_FOUND");
      expect(error.message).toContain("ZZZ");
    });
  });

  describe("DELETE", () => {
    test("an inclusive range deletes those bars only", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      await f.store.insertBars("BBB", bars);
      const answer = await call(f.app, "DELETE", `/v1/bars/AAA?start=${T0 + 2 * MIN}&end=${T0 + 4 * MIN}`);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ deleted: 3 });
      expectSameBars(await f.store.getBars("AAA"), [...bars.slice(0, 2), ...bars.slice(5)]);
      expectSameBars(await f.store.getBars("BBB"), bars);
    });

    test("start alone deletes from there on; all=true deletes every bar of the symbol", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      await f.store.insertBars("BBB", bars);
      expect((await call(f.app, "DELETE", `/v1/bars/AAA?start=${T0 + 10 * MIN}`)).body).toEqual({ deleted: 2 });
      expectSameBars(await f.store.getBars("AAA"), bars.slice(0, 10));
      expect((await call(f.app, "DELETE", "/v1/bars/AAA?all=true")).body).toEqual({ deleted: 10 });
      expect(await f.store.getBars("AAA")).toEqual([]);
      expectSameBars(await f.store.getBars("BBB"), bars);
    });

    test("422 without a range or all=true, or with both; nothing is deleted", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const before = await snapshot(f.store, ["AAA"]);
      const none = expectError(await call(f.app, "DELETE", "/v1/bars/AAA"), 422, "VALIDATION");
      expect(none.details).toEqual([{ field: "start", message: expect.any(String) }]);
      const both = expectError(await call(f.app, "DELETE", `/v1/bars/AAA?all=true&start=${T0}`), 422, "VALIDATION");
      expect(both.details).toEqual([{ field: "all", message: expect.any(String) }]);
      expectError(await call(f.app, "DELETE", "/v1/bars/AAA?all=yes"), 422, "VALIDATION");
      expect(await snapshot(f.store, ["AAA"])).toEqual(before);
    });

    test("422 for a misspelled range key (it must not widen into a delete of everything)", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const before = await snapshot(f.store, ["AAA"]);
      const error = expectError(await call(f.app, "DELETE", `/v1/bars/AAA?startTime=${T0}&all=true`), 422, "VALIDATION");
      expect(error.details).toEqual([{ field: "startTime", message: expect.any(String) }]);
      expect(await snapshot(f.store, ["AAA"])).toEqual(before);
    });

    test("422 for start after end; nothing is deleted", async () => {
      const f = await openApiFixture();
      await f.store.insertBars("AAA", bars);
      const before = await snapshot(f.store, ["AAA"]);
      const error = expectError(await call(f.app, "DELETE", `/v1/bars/AAA?start=${T0 + 5 * MIN}&end=${T0}`), 422, "VALIDATION");
      expect((error.details as { field: string }[]).map((issue) => issue.field)).toContain("start");
      expect(await snapshot(f.store, ["AAA"])).toEqual(before);
    });
  });

  describe("real TDX data", () => {
    test("CSV round trip: the 1-minute index file uploaded as CSV, exported as CSV, equals the store", async () => {
      const f = await openApiFixture();
      const source = await tdxBars(TDX_INDEX_1MIN);
      expect(source.length).toBe(24_000);
      const upload = await call(f.app, "POST", "/v1/bars/000001.SH", { csv: csvOf(source) });
      expect({ status: upload.status, text: upload.text.slice(0, 300) }).toEqual({ status: 200, text: JSON.stringify({ written: 24_000, file: { profile: "cache", encoding: "utf-8", conversions: [], assumed: [], ignored: [] } }) });
      const stored = await f.store.getBars("000001.SH");
      expectSameBars(stored, source);
      const exported = await call(f.app, "GET", "/v1/bars/000001.SH?format=csv");
      expect(exported.status).toBe(200);
      expectSameBars(barsOfCsv(exported.text), stored);
      // The denormal volumes survive the trip bit for bit.
      expect(barsOfCsv(exported.text).filter((bar) => bar.volume === 5.877471754111438e-39).length).toBe(100);
    });

    test("the TDX export as the terminal wrote it (datetime twice, vol and volume, extra columns), posted as text/csv, is stored as tradelite import stores it", async () => {
      const f = await openApiFixture({ timezone: "Asia/Shanghai" });
      const raw = await Bun.file(realDataPath(TDX_INDEX_1MIN)).bytes();
      const upload = await call(f.app, "POST", "/v1/bars/000001.SH", { body: raw, headers: { "content-type": "text/csv" } });
      expect(upload.status).toBe(200);
      expect(upload.body).toMatchObject({ written: 24_000, file: { profile: "tdx", encoding: "utf-8", conversions: [] } });
      expect(upload.body.file.ignored).toContain("vol");
      expectSameBars(await f.store.getBars("000001.SH"), await tdxBars(TDX_INDEX_1MIN));
    });

    test("the descending 5-minute ETF file, posted as JSON, exports the same in json, csv and ndjson (streamed)", async () => {
      const f = await openApiFixture();
      const source = await tdxBars(TDX_ETF_5MIN_DESC);
      expect(source.length).toBe(23_568);
      const upload = await call(f.app, "POST", "/v1/bars/512010.SH", { json: source });
      expect(upload.body).toEqual({ written: source.length });
      const stored = await f.store.getBars("512010.SH");
      const ascending = [...source].sort((a, b) => a.timestamp - b.timestamp);
      expectSameBars(stored, ascending);

      // More than 10,000 rows: the JSON answer is streamed, and still the whole array.
      const json = await call(f.app, "GET", "/v1/bars/512010.SH");
      expectSameBars(json.body, stored);
      expectSameBars(barsOfCsv((await call(f.app, "GET", "/v1/bars/512010.SH?format=csv")).text), stored);
      expectSameBars(barsOfNdjson((await call(f.app, "GET", "/v1/bars/512010.SH?format=ndjson")).text), stored);

      const limited = await call(f.app, "GET", "/v1/bars/512010.SH?order=desc&limit=15000");
      expectSameBars(limited.body, stored.slice(-15_000).reverse());
      const daily = await call(f.app, "GET", "/v1/bars/512010.SH?interval=1d&format=ndjson");
      expectSameBars(barsOfNdjson(daily.text), await f.store.getBars("512010.SH", { interval: "1d" }));
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe("the daily series over /v1/bars/{symbol}", () => {
  test("POST ?interval=1d (JSON or CSV) writes daily bars beside the minutes; GET ?interval=1d&source= reads each side or both", async () => {
    const f = await openApiFixture({ timezone: "Asia/Shanghai" });
    const minutes = minuteBars(T0, 30);
    expect((await call(f.app, "POST", "/v1/bars/600519.SH", { json: minutes })).body).toEqual({ written: 30 });
    expect((await call(f.app, "POST", "/v1/bars/600519.SH?interval=1d", { json: DAILY_BARS })).body).toEqual({ written: 2 });
    const csv = "timestamp,open,high,low,close,volume,amount\n2024-01-04T16:00:00.000Z,11,11.5,10.5,11.2,3000,33600\n";
    expect((await call(f.app, "POST", "/v1/bars/600519.SH?interval=1d", { csv })).body).toMatchObject({ written: 1 });
    expect(await f.store.getBars("600519.SH")).toHaveLength(30);

    const stored = (await call(f.app, "GET", "/v1/bars/600519.SH?interval=1d&source=stored")).body as { timestamp: number }[];
    expect(stored.map((bar) => bar.timestamp)).toEqual([shanghaiMidnight("2024-01-02"), shanghaiMidnight("2024-01-03"), shanghaiMidnight("2024-01-05")]);
    expect(stored).toEqual(await f.store.getBars("600519.SH", { interval: "1d", source: "stored" }));
    const fromMinutes = (await call(f.app, "GET", "/v1/bars/600519.SH?interval=1d&source=minutes")).body;
    expect(fromMinutes).toEqual(await f.store.getBars("600519.SH", { interval: "1d", source: "minutes" }));
    expect(fromMinutes).toHaveLength(1);
    // Both merged: the stored 2024-01-02 wins over the one from minutes.
    expect((await call(f.app, "GET", "/v1/bars/600519.SH?interval=1d")).body).toEqual(stored);
    const ndjson = await call(f.app, "GET", "/v1/bars/600519.SH?interval=1d&source=stored&format=ndjson&order=desc&limit=1");
    expect(JSON.parse(ndjson.text.trim())).toEqual(stored[2]);

    expect((await call(f.app, "DELETE", "/v1/bars/600519.SH?interval=1d&start=2024-01-03")).body).toEqual({ deleted: 2 });
    expect(await f.store.getBars("600519.SH")).toHaveLength(30);
    expect((await call(f.app, "DELETE", "/v1/bars/600519.SH?interval=1d&all=true")).body).toEqual({ deleted: 1 });
    expect((await f.store.overview())[0]!.daily).toBeUndefined();
    const entries = await f.store.audit.query({ action: "bars.delete" });
    expect(entries.map((entry) => (entry.details as { interval?: string }).interval)).toEqual(["1d", "1d"]);
  });

  test("422 naming the field for a daily bar off midnight, an unknown interval, and source without interval=1d; nothing written", async () => {
    const f = await openApiFixture({ timezone: "Asia/Shanghai" });
    const offMidnight = expectError(await call(f.app, "POST", "/v1/bars/X?interval=1d", { json: [{ ...DAILY_BARS[0]!, timestamp: "2024-01-02 15:00" }] }), 422, "VALIDATION");
    expect(offMidnight.details).toEqual([{ row: 0, field: "timestamp", message: expect.stringContaining("local midnight") }]);
    expect(expectError(await call(f.app, "POST", "/v1/bars/X?interval=1h", { json: DAILY_BARS }), 422, "VALIDATION").details).toEqual([{ field: "interval", message: expect.any(String) }]);
    expect(expectError(await call(f.app, "DELETE", "/v1/bars/X?interval=5m&all=true"), 422, "VALIDATION").details).toEqual([{ field: "interval", message: expect.any(String) }]);
    for (const query of ["source=stored", "interval=1w&source=stored"]) {
      expect(expectError(await call(f.app, "GET", `/v1/bars/X?${query}`), 422, "VALIDATION").details).toEqual([{ field: "source", message: expect.any(String) }]);
    }
    expect(expectError(await call(f.app, "GET", "/v1/bars/X?interval=1d&source=vendor"), 422, "VALIDATION").details).toEqual([{ field: "source", message: expect.any(String) }]);
    expect(await f.store.overview()).toEqual([]);
  });
});
