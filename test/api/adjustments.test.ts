/**
 * The adjustment routes and adjusted bar reads (src/api/adjustments.ts, src/api/bars.ts) through
 * a real server on a loopback port over a SQLite file: Tushare's factors of 600036 written with
 * PUT and read back, its raw daily bars read qfq and hfq equal to the vendor's own columns,
 * point-in-time reads, a CSV export adjusted, actions turned into factors, and bad input refused
 * with nothing written.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openStore, type Store } from "../../src/mod.ts";
import { startServer, type RunningServer } from "../../src/api/server.ts";
import { roundHalfUp } from "../../src/domain/corporate-action.ts";
import { tempDir } from "../support/files.ts";
import { PRICE_FIELDS, readTushareFactors } from "../support/real-data-adjustments.ts";

const SYMBOL = "600036.SH";
const days = await readTushareFactors();
let dir: ReturnType<typeof tempDir>;
let store: Store;
let server: RunningServer;

beforeAll(async () => {
  dir = tempDir("tradelite-api-adjustments-");
  store = await openStore({ backend: "sqlite", path: dir.file("market.db"), timezone: "Asia/Shanghai", barTimestamp: "end" });
  server = startServer(store, { port: 0 });
  await store.insertBars(SYMBOL, days.map((day) => day.raw), { interval: "1d" });
});

afterAll(async () => {
  await server.stop(true);
  await store.close();
  dir.cleanup();
});

async function call(method: string, path: string, body?: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  const text = await response.text();
  return { status: response.status, text, body: response.headers.get("content-type")?.includes("json") ? (JSON.parse(text) as any) : undefined };
}

describe("adjustments over HTTP", () => {
  test("an ex-date the symbol's calendar says is closed is stored and said: the warnings name each date", async () => {
    await store.calendars.assign("600000.SH", "XSHG");
    // 2024-07-13 is a Saturday, 2024-10-01 the National Day holiday; 2024-07-11 a trading day.
    const answer = await call("PUT", "/v1/adjustments/600000.SH", { factors: [{ date: "2024-07-11", factor: 1.1 }, { date: "20240713", factor: 1.2 }, { date: "2024-10-01", factor: 1.3 }] });
    expect(answer.status).toBe(200);
    expect(answer.body.written).toBe(3);
    expect(answer.body.warnings).toEqual([
      "600000.SH: 2024-07-13 is not a trading day of XSHG; stored as given (an ex-date is the first day traded at the new price)",
      "600000.SH: 2024-10-01 is not a trading day of XSHG; stored as given (an ex-date is the first day traded at the new price)",
    ]);
    expect((await store.adjustments.list("600000.SH")).map((row) => row.date)).toEqual(["2024-07-11", "2024-07-13", "2024-10-01"]);
    // A symbol without a calendar is not judged.
    expect((await call("PUT", "/v1/adjustments/NOCAL", { factors: [{ date: "2024-07-13", factor: 1.2 }] })).body).toEqual({ written: 1, warnings: [] });
  });


  test("PUT writes Tushare's factors (known 09:20 each day) once; GET lists them, as of an instant too", async () => {
    const factors = days.map((day) => ({ date: day.date.replaceAll("-", ""), factor: day.factor, knownAt: `${day.date} 09:20`, source: "tushare" }));
    expect(await call("PUT", `/v1/adjustments/${SYMBOL}`, { factors })).toEqual({ status: 200, text: expect.any(String), body: { written: days.length, warnings: [] } });
    expect((await call("PUT", `/v1/adjustments/${SYMBOL}`, { factors })).body).toEqual({ written: 0, warnings: [] });
    const listed = await call("GET", `/v1/adjustments/${SYMBOL}`);
    expect(listed.body).toEqual(await store.adjustments.list(SYMBOL));
    expect(listed.body).toHaveLength(days.length);
    const asOf = await call("GET", `/v1/adjustments/${SYMBOL}?asOf=2024-07-11T09:20:00%2B08:00`);
    expect(asOf.body.at(-1)).toMatchObject({ date: "2024-07-11", factor: 6.0581 });
    const epoch = await call("GET", `/v1/adjustments/${SYMBOL}?asOf=${Date.parse("2024-07-11T01:20:00Z")}`);
    expect(epoch.body).toEqual(asOf.body);
  });

  test("GET /v1/bars with adjust=qfq and hfq gives the vendor's own prices to its 5 decimals", async () => {
    for (const mode of ["qfq", "hfq"] as const) {
      const answer = await call("GET", `/v1/bars/${SYMBOL}?interval=1d&source=stored&adjust=${mode}`);
      expect(answer.status).toBe(200);
      expect(answer.body).toHaveLength(days.length);
      const wrong: string[] = [];
      answer.body.forEach((bar: Record<string, number>, i: number) => {
        for (const field of PRICE_FIELDS) if (roundHalfUp(bar[field]!, 5) !== days[i]![mode][field]) wrong.push(`${days[i]!.date} ${field}`);
      });
      expect(wrong).toEqual([]);
    }
  });

  test("asOf pins a read; before every factor it is a 422 naming asOf; a CSV export is adjusted the same way", async () => {
    const asOf = "2024-12-31T15:00:00%2B08:00";
    const pinned = await call("GET", `/v1/bars/${SYMBOL}?interval=1d&source=stored&adjust=qfq&asOf=${asOf}`);
    expect(pinned.body).toEqual(await store.getBars(SYMBOL, { interval: "1d", source: "stored", adjust: "qfq", asOf: "2024-12-31T15:00:00+08:00" }));
    const dec31 = days.findIndex((day) => day.date === "2024-12-31");
    expect(pinned.body[dec31].close).toBe(days[dec31]!.raw.close);
    const early = await call("GET", `/v1/bars/${SYMBOL}?interval=1d&source=stored&adjust=qfq&asOf=2020-01-01`);
    expect(early.status).toBe(422);
    expect(early.body.error.details[0].field).toBe("asOf");
    const csv = await call("GET", `/v1/bars/${SYMBOL}?interval=1d&source=stored&adjust=hfq&adjustVolume=true&format=csv&limit=2`);
    expect(csv.status).toBe(200);
    const hfq = await store.getBars(SYMBOL, { interval: "1d", source: "stored", adjust: "hfq", adjustVolume: true, limit: 2 });
    expect(csv.text.trim().split("\n").slice(1).map((line) => Number(line.split(",")[4]))).toEqual(hfq.map((bar) => bar.close!));
    for (const bad of ["adjust=fq", "adjustVolume=yes", "asOf=soon"]) {
      const refused = await call("GET", `/v1/bars/${SYMBOL}?${bad}`);
      expect([bad, refused.status]).toEqual([bad, 422]);
    }
  });

  test("PUT actions computes factors from the stored closes and lists the actions; refusals write nothing", async () => {
    const symbol = "000001.SZ";
    const closes = [["2024-06-13", 10.5], ["2024-06-14", 10.36]] as const;
    await store.insertBars(symbol, closes.map(([date, close]) => ({ timestamp: date, open: close, high: close, low: close, close })), { interval: "1d" });
    const put = await call("PUT", `/v1/adjustments/${symbol}`, { actions: [{ date: "20240614", cash: 0.719 }], source: "tdx" });
    expect(put.status).toBe(200);
    // (10.5 - 0.719) rounds to 9.78: 10.5 / 9.78.
    expect(put.body.factors).toEqual([{ date: "2024-06-14", factor: 10.5 / 9.78, knownAt: Date.parse("2024-06-14T00:00:00+08:00"), source: "tdx" }]);
    expect((await call("GET", `/v1/adjustments/${symbol}/actions`)).body).toEqual([{ date: "2024-06-14", cash: 0.719, knownAt: Date.parse("2024-06-14T00:00:00+08:00"), source: "tdx" }]);
    const audit = await store.audit.query();
    for (const body of [
      { factors: [{ date: "2024-06-20", factor: 1.1 }], actions: [{ date: "2024-06-20", cash: 1 }] },
      {},
      { factors: [{ date: "2024-06-20", factor: 1.1 }], source: "tdx" },
      { factors: [{ date: "2024-06-20", factor: 0 }] },
      { actions: [{ date: "2024-01-02", cash: 1 }] },
      { actions: [{ date: "2024-06-20", cash: 1, when: "now" }] },
    ]) {
      const refused = await call("PUT", `/v1/adjustments/${symbol}`, body);
      expect([JSON.stringify(body), refused.status, refused.body.error.code]).toEqual([JSON.stringify(body), 422, "VALIDATION"]);
    }
    expect(await store.audit.query()).toEqual(audit);
    expect(await store.adjustments.list(symbol)).toHaveLength(1);
  });
});
