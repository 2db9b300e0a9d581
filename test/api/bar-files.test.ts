/**
 * Binary bar files uploaded to POST /v1/bars (src/api/bar-files.ts): a TDX .day and .lc1 (the
 * real files of test/fixtures), Parquet and Arrow as GET /v1/bars writes them. Each lands as
 * `tradelite import` lands it; a file for another symbol, a .day without interval=1d and a file
 * cut short are refused with nothing written.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { importTdxFile, tdxFileName } from "../../src/import/tdx-binary.ts";
import type { BarColumns } from "../../src/mod.ts";
import { call, closeApiFixtures, expectError, minuteBars, openApiFixture } from "../support/api.ts";

afterEach(closeApiFixtures);

const fixture = (...parts: string[]) => join(import.meta.dir, "..", "fixtures", ...parts);
const DAY = fixture("calendar", "sz000001.day");
const LC1 = fixture("tdx", "sh688001.lc1");

/** What the TDX importer itself reads from a file, as the CLI stores it. */
async function tdxTimestamps(path: string, timeZone: string): Promise<number[]> {
  const stamps: number[] = [];
  await importTdxFile(Bun.file(path), tdxFileName(path.split("/").pop()!)!, {
    timeZone,
    write: async (bars: BarColumns) => {
      stamps.push(...Array.from(bars.timestamp as ArrayLike<number>));
      return bars.timestamp.length;
    },
  });
  return stamps;
}

describe("TDX binaries as application/octet-stream", () => {
  test("a .day file (?file= names it) goes to the daily series; a .lc1 to the bars as written, in the exchange's zone", async () => {
    const f = await openApiFixture({ timezone: "Asia/Shanghai" });
    const day = await call(f.app, "POST", "/v1/bars/000001.SZ?interval=1d&file=sz000001.day", { body: await Bun.file(DAY).bytes(), headers: { "content-type": "application/octet-stream" } });
    expect(day.body).toEqual({ written: 4_995 });
    const stored = await f.store.getBars("000001.SZ", { interval: "1d", source: "stored" });
    expect(stored.map((bar) => bar.timestamp)).toEqual(await tdxTimestamps(DAY, "Asia/Shanghai"));

    const minutes = await call(f.app, "POST", "/v1/bars/688001.SH?file=sh688001.lc1", { body: await Bun.file(LC1).bytes(), headers: { "content-type": "application/octet-stream" } });
    expect(minutes.body).toEqual({ written: 2_880 });
    expect((await f.store.getBars("688001.SH")).map((bar) => bar.timestamp)).toEqual(await tdxTimestamps(LC1, "Asia/Shanghai"));
  });

  test("refused with nothing written: no ?file=, a file of another symbol, a .day without interval=1d, a file cut short", async () => {
    const f = await openApiFixture({ timezone: "Asia/Shanghai" });
    const bytes = await Bun.file(DAY).bytes();
    const post = (path: string, body: Uint8Array) => call(f.app, "POST", path, { body, headers: { "content-type": "application/octet-stream" } });
    expect(expectError(await post("/v1/bars/000001.SZ?interval=1d", bytes), 422, "VALIDATION").message).toContain("?file=");
    expect(expectError(await post("/v1/bars/600000.SH?interval=1d&file=sz000001.day", bytes), 422, "VALIDATION").message).toContain("holds 000001.SZ");
    expect(expectError(await post("/v1/bars/000001.SZ?file=sz000001.day", bytes), 422, "VALIDATION").message).toContain("?interval=1d");
    expect(expectError(await post("/v1/bars/000001.SZ?interval=1d&file=sz000001.day", bytes.slice(0, 1_000)), 400, "MALFORMED").message).toContain("not a whole number of 32-byte records");
    expect(await f.store.overview()).toEqual([]);
  });
});

describe("Parquet and Arrow", () => {
  test("what GET ?format=parquet|arrow answers, posted back under another symbol, is the same bars", async () => {
    const f = await openApiFixture();
    const bars = minuteBars(Date.UTC(2024, 0, 2, 1, 31), 500).map((bar, i) => (i % 7 === 0 ? { ...bar, amount: null } : bar));
    await f.store.insertBars("SRC", bars);
    for (const [format, type] of [["parquet", "application/vnd.apache.parquet"], ["arrow", "application/vnd.apache.arrow.stream"]] as const) {
      const exported = await f.app.request(`/v1/bars/SRC?format=${format}`);
      expect(exported.headers.get("content-type")).toBe(type);
      const body = new Uint8Array(await exported.arrayBuffer());
      const answer = await call(f.app, "POST", `/v1/bars/${format.toUpperCase()}`, { body, headers: { "content-type": type } });
      expect(answer.body).toEqual({ written: 500 });
      expect(await f.store.getBars(format.toUpperCase())).toEqual(bars);
      // Cut short: refused, nothing written.
      const cut = await call(f.app, "POST", `/v1/bars/CUT${format}`, { body: body.slice(0, body.length - 40), headers: { "content-type": type } });
      expectError(cut, 400, "MALFORMED");
      expect(await f.store.getBars(`CUT${format}`)).toEqual([]);
    }
  });
});
