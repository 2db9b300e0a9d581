/**
 * `tradelite export --format parquet | arrow` and `tradelite import FILE.parquet`, run as users
 * run them: the CLI in its own process, a SQLite file on disk, the real TDX export of
 * test/fixtures (denormal volumes included) plus bars with NULLs, and DuckDB as the reader that
 * tradelite's Parquet is for.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { tableFromIPC } from "apache-arrow";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { columnarBarWriter } from "../../src/domain/bar-columnar.ts";
import { openDatabase, type Bar } from "../../src/mod.ts";
import { cli } from "../support/cli.ts";
import { readParquetWithDuckDb } from "../support/duckdb.ts";
import { tempDir } from "../support/files.ts";
import { realDataPath, TDX_INDEX_1MIN } from "../support/real-data-tdx.ts";

const dir = tempDir("tradelite-columnar-");
afterAll(() => dir.cleanup());
const SYMBOL = "000001.SH";
const source = { TRADELITE_DB: dir.file("source.db") };
let stored: Bar[] = [];

function barsOf(path: string, symbol = SYMBOL): Bar[] {
  const db = openDatabase({ path, readonly: true });
  try {
    return db.getBars(symbol);
  } finally {
    db.close();
  }
}

/** A database of `count` minute bars of 600519.SH (more than one row group's worth). */
function manyBars(name: string, count: number): string {
  const path = dir.file(name);
  const db = openDatabase({ path });
  const timestamp = Float64Array.from({ length: count }, (_, i) => Date.UTC(2020, 0, 1) + i * 60_000);
  const close = Float64Array.from({ length: count }, (_, i) => 10 + (i % 977) / 100);
  db.insertBars("600519.SH", { timestamp, open: close, high: close, low: close, close, volume: close, amount: close });
  db.close();
  return path;
}

function overviewOf(path: string): unknown[] {
  if (!existsSync(path)) return [];
  const db = openDatabase({ path, readonly: true });
  try {
    return db.overview();
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  const run = await cli(["import", realDataPath(TDX_INDEX_1MIN), "--timezone", "Asia/Shanghai"], source);
  expect(run.code).toBe(0);
  // Bars with NULLs after the real ones: every value column null in one of them.
  const db = openDatabase({ path: source.TRADELITE_DB });
  const last = db.getBars(SYMBOL, { order: "desc", limit: 1 })[0]!.timestamp;
  db.insertBars(SYMBOL, [
    { timestamp: last + 60_000, open: null, high: 11, low: 10, close: 10.5, volume: null, amount: 1 },
    { timestamp: last + 120_000, open: 10.5, high: null, low: null, close: null, volume: 0.5, amount: null },
  ]);
  db.close();
  stored = barsOf(source.TRADELITE_DB);
  expect(stored.some((bar) => bar.volume !== null && bar.volume > 0 && bar.volume < 1e-30)).toBe(true);
});

describe("export --format parquet", () => {
  test("DuckDB reads the file and gets the stored rows exactly: UTC timestamps in ms, float64 values, NULLs and denormal volumes", async () => {
    const out = dir.file(`${SYMBOL}.parquet`);
    const run = await cli(["export", SYMBOL, "--format", "parquet", "--out", out], source);
    expect(run.code).toBe(0);
    const { bars, types } = await readParquetWithDuckDb(out);
    expect(types).toEqual({
      timestamp: "TIMESTAMP WITH TIME ZONE", open: "DOUBLE", high: "DOUBLE", low: "DOUBLE", close: "DOUBLE", volume: "DOUBLE", amount: "DOUBLE",
    });
    expect(bars.length).toBe(stored.length);
    expect(bars).toEqual(stored);
  });

  test("written to stdout for a slow reader, the bytes are the whole file (a full pipe is waited for, not an error)", async () => {
    const path = manyBars("stdout.db", 200_000);
    const child = Bun.spawn(["bun", "scripts/tradelite.ts", "export", "600519.SH", "--format", "parquet"], {
      cwd: `${import.meta.dir}/../..`, env: { ...process.env, TRADELITE_DB: path }, stdout: "pipe", stderr: "pipe",
    });
    const chunks: Uint8Array[] = [];
    // A reader slower than the writer, so the pipe fills.
    for await (const chunk of child.stdout) {
      chunks.push(chunk);
      await Bun.sleep(2);
    }
    expect(await new Response(child.stderr).text()).toBe("exported 200,000 bars of 600519.SH\n");
    expect(await child.exited).toBe(0);
    const out = dir.file("stdout.parquet");
    writeFileSync(out, Buffer.concat(chunks));
    expect((await readParquetWithDuckDb(out)).bars).toEqual(barsOf(path, "600519.SH"));
  });

  test("a round trip through tradelite's own import is exact, the symbol taken from the file name", async () => {
    const out = dir.file(`${SYMBOL}-1min.parquet`);
    expect((await cli(["export", SYMBOL, "--format", "parquet", "--out", out], source)).code).toBe(0);
    const target = { TRADELITE_DB: dir.file("round-trip.db") };
    const run = await cli(["import", out], target);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`${stored.length.toLocaleString("en-US")} bars written to ${SYMBOL}`);
    expect(barsOf(target.TRADELITE_DB)).toEqual(stored);
  });

  test("more bars than a row group: several row groups, DuckDB and the import read them all", async () => {
    const path = manyBars("many.db", 150_000);
    const out = dir.file("many.parquet");
    expect((await cli(["export", "600519.SH", "--format", "parquet", "--out", out], { TRADELITE_DB: path })).code).toBe(0);
    const expected = barsOf(path, "600519.SH");
    expect((await readParquetWithDuckDb(out)).bars).toEqual(expected);
    const target = { TRADELITE_DB: dir.file("many-again.db") };
    expect((await cli(["import", out, "--symbol", "600519.SH"], target)).code).toBe(0);
    expect(barsOf(target.TRADELITE_DB, "600519.SH")).toEqual(expected);
  });
});

describe("export --format arrow", () => {
  test("an Arrow IPC file (Feather v2) that Arrow reads back to the stored rows, nulls as nulls", async () => {
    const out = dir.file(`${SYMBOL}.arrow`);
    const run = await cli(["export", SYMBOL, "--format", "arrow", "--out", out], source);
    expect(run.code).toBe(0);
    const bytes = await Bun.file(out).bytes();
    // The IPC file format starts and ends with its magic.
    expect(new TextDecoder().decode(bytes.subarray(0, 6))).toBe("ARROW1");
    expect(new TextDecoder().decode(bytes.subarray(bytes.length - 6))).toBe("ARROW1");
    const table = tableFromIPC(bytes);
    expect(table.schema.fields.map((field) => `${field.name}:${field.type}:${field.nullable}`)).toEqual([
      "timestamp:Timestamp<MILLISECOND, UTC>:false", ...["open", "high", "low", "close", "volume", "amount"].map((name) => `${name}:Float64:true`),
    ]);
    const bars = table.toArray().map((row) => {
      const { timestamp, ...values } = row.toJSON() as Record<string, number | bigint | null>;
      return { timestamp: Number(timestamp), ...values };
    });
    expect(bars).toEqual(stored);
  });
});

describe("import of Arrow files", () => {
  test("a round trip through export --format arrow and import is exact; the server's IPC stream (.arrows) imports too", async () => {
    const out = dir.file(`${SYMBOL}.arrow`);
    expect((await cli(["export", SYMBOL, "--format", "arrow", "--out", out], source)).code).toBe(0);
    const target = { TRADELITE_DB: dir.file("arrow-round-trip.db") };
    const run = await cli(["import", out], target);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(barsOf(target.TRADELITE_DB)).toEqual(stored);
    // The stream format, as GET ?format=arrow answers it.
    const writer = columnarBarWriter("arrow-stream");
    const parts = stored.map((bar) => writer.add(bar)).filter((part) => part !== null);
    const streamFile = dir.file(`${SYMBOL}.arrows`);
    writeFileSync(streamFile, Buffer.concat([...parts, writer.finish()]));
    const again = { TRADELITE_DB: dir.file("arrow-stream.db") };
    expect((await cli(["import", streamFile], again)).code).toBe(0);
    expect(barsOf(again.TRADELITE_DB)).toEqual(stored);
  });

  test("a file cut short is refused with nothing written", async () => {
    const out = dir.file("cut-source.arrow");
    expect((await cli(["export", SYMBOL, "--format", "arrow", "--out", out], source)).code).toBe(0);
    const bytes = await Bun.file(out).bytes();
    const cut = dir.file(`${SYMBOL}-cut.arrow`);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const target = { TRADELITE_DB: dir.file("arrow-cut.db") };
    const run = await cli(["import", cut], target);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("it cannot be read as Arrow IPC");
    expect(run.stderr).toContain("the file is cut short or damaged; nothing was written");
    expect(overviewOf(target.TRADELITE_DB)).toEqual([]);
  });

  test("a stream whose first message declares 2 GB of metadata is refused without allocating it", async () => {
    const writer = columnarBarWriter("arrow-stream");
    const bytes = Buffer.concat([writer.add(stored[0]!) ?? new Uint8Array(0), writer.finish()]);
    // After the continuation marker (0xFFFFFFFF), the schema message's metadata length.
    new DataView(bytes.buffer, bytes.byteOffset).setInt32(4, 0x7fff_fff0, true);
    const file = dir.file(`${SYMBOL}-hostile.arrows`);
    writeFileSync(file, bytes);
    const target = dir.file("arrow-hostile.db");
    const child = Bun.spawn(["bun", "scripts/tradelite.ts", "import", file], {
      cwd: `${import.meta.dir}/../..`, env: { ...process.env, TRADELITE_DB: target }, stdout: "pipe", stderr: "pipe",
    });
    const peak = watchPeakRss(child.pid);
    const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    expect(code).toBe(1);
    expect(stderr).toContain("it cannot be read as Arrow IPC");
    expect((await peak()) / 1024 / 1024).toBeLessThan(400);
    expect(overviewOf(target)).toEqual([]);
  });
});

describe("import of a bad Parquet file", () => {
  /** A valid export of the source, as bytes. */
  async function exported(): Promise<Uint8Array> {
    const out = dir.file("valid.parquet");
    expect((await cli(["export", SYMBOL, "--format", "parquet", "--out", out], source)).code).toBe(0);
    return Bun.file(out).bytes();
  }

  /** Imports `bytes` as a file into a fresh database: the run, its peak memory, and what got stored. */
  async function importBytes(name: string, bytes: Uint8Array): Promise<{ code: number; stderr: string; maxRssMb: number; stored: unknown[] }> {
    const file = dir.file(name);
    writeFileSync(file, bytes);
    const db = dir.file(`${name}.db`);
    const child = Bun.spawn(["bun", "scripts/tradelite.ts", "import", file, "--symbol", SYMBOL], {
      cwd: `${import.meta.dir}/../..`, env: { ...process.env, TRADELITE_DB: db }, stdout: "pipe", stderr: "pipe",
    });
    const peak = watchPeakRss(child.pid);
    const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    return { code, stderr, maxRssMb: (await peak()) / 1024 / 1024, stored: overviewOf(db) };
  }

  /** A small file whose footer `mutate` edits before it is written: a hostile footer. */
  function withFooter(mutate: (writer: ParquetWriter) => void): Uint8Array {
    const out = new ByteWriter();
    const writer = new ParquetWriter({
      writer: out,
      schema: [{ name: "schema", num_children: 2 }, { name: "timestamp", type: "INT64", repetition_type: "REQUIRED" }, { name: "close", type: "DOUBLE", repetition_type: "OPTIONAL" }],
    });
    void writer.write({ columnData: [{ name: "timestamp", data: [1_704_159_060_000n, 1_704_159_120_000n] }, { name: "close", data: [10.5, 10.6] }] });
    mutate(writer);
    writer.finish();
    return new Uint8Array(out.getBuffer());
  }

  test("a file cut short is refused, naming why, and nothing is written", async () => {
    const bytes = await exported();
    const run = await importBytes("cut.parquet", bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("not a whole Parquet file (no PAR1 at its start and end): the file is cut short or not Parquet; nothing was written");
    expect(run.stored).toEqual([]);
  });

  test("a footer declaring more bytes than the file holds is refused", async () => {
    const bytes = (await exported()).slice();
    new DataView(bytes.buffer).setUint32(bytes.length - 8, 0x7fff_ffff, true);
    const run = await importBytes("footer.parquet", bytes);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("its footer declares 2147483647 bytes, more than the file holds");
    expect(run.stored).toEqual([]);
  });

  test("a column chunk declaring 2^40 bytes is refused quickly, without allocating them", async () => {
    const bytes = withFooter((writer) => {
      writer.row_groups[0]!.columns[1]!.meta_data!.total_compressed_size = 2n ** 40n;
      writer.row_groups[0]!.columns[1]!.meta_data!.total_uncompressed_size = 2n ** 40n;
    });
    const run = await importBytes("huge-chunk.parquet", bytes);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("row group 1, column close: its 1099511627776 bytes at offset");
    expect(run.stderr).toContain("are not between the file's header and its footer");
    expect(run.maxRssMb).toBeLessThan(400);
    expect(run.stored).toEqual([]);
  });

  test("a negative offset, and a row group declaring 2^40 rows, are refused", async () => {
    const negative = await importBytes("negative.parquet", withFooter((writer) => {
      writer.row_groups[0]!.columns[0]!.meta_data!.data_page_offset = -5n;
    }));
    expect(negative.code).toBe(1);
    expect(negative.stderr).toContain("row group 1, column timestamp: its");
    expect(negative.stderr).toContain("bytes at offset -5 are not between the file's header and its footer");
    const rows = await importBytes("rows.parquet", withFooter((writer) => {
      writer.row_groups[0]!.num_rows = 2n ** 40n;
    }));
    expect(rows.code).toBe(1);
    expect(rows.stderr).toContain("row group 1 declares 1099511627776 rows");
    expect(rows.maxRssMb).toBeLessThan(400);
    expect([...negative.stored, ...rows.stored]).toEqual([]);
  });

  test("a page header declaring 2^30 values in a group of 2 rows is refused before its page is read", async () => {
    // The close column's one data page, its header's num_values (2, the varint 0x04 first in the
    // data_page_header_v2 struct, field header 0x5c, then 0x15) rewritten as 2^30 (five bytes),
    // the chunk grown to match.
    const out = new ByteWriter();
    const writer = new ParquetWriter({
      writer: out, codec: "UNCOMPRESSED",
      schema: [{ name: "schema", num_children: 2 }, { name: "timestamp", type: "INT64", repetition_type: "REQUIRED" }, { name: "close", type: "DOUBLE", repetition_type: "OPTIONAL" }],
    });
    void writer.write({ columnData: [{ name: "timestamp", data: [1_704_159_060_000n, 1_704_159_120_000n], encoding: "PLAIN" }, { name: "close", data: [10.5, 10.6], encoding: "PLAIN" }] });
    const meta = writer.row_groups[0]!.columns[1]!.meta_data!;
    const written = new Uint8Array(out.buffer.slice(0, out.index));
    const page = Number(meta.data_page_offset);
    const at = written.findIndex((byte, i) => i > page && byte === 0x04 && written[i - 1] === 0x15 && written[i - 2] === 0x5c);
    expect(at).toBeGreaterThan(page);
    const hostile = new Uint8Array([...written.subarray(0, at), 0x80, 0x80, 0x80, 0x80, 0x08, ...written.subarray(at + 1)]);
    meta.total_compressed_size += 4n;
    meta.total_uncompressed_size += 4n;
    out.index = 0;
    out.offset = 0;
    out.appendBytes(hostile);
    writer.finish();
    const run = await importBytes("page.parquet", new Uint8Array(out.getBuffer()));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("column close: a page declares 1073741824 values in a group of 2 rows");
    expect(run.maxRssMb).toBeLessThan(400);
    expect(run.stored).toEqual([]);
  });

  test("a text file named .parquet is refused as not Parquet", async () => {
    const run = await importBytes("text.parquet", new TextEncoder().encode("timestamp,open\n2024-01-02,1\n"));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("not a whole Parquet file");
    expect(run.stored).toEqual([]);
  });
});

/**
 * A child's peak resident memory, read from /proc/PID/status (VmHWM) every 2 ms until it exits;
 * the returned function stops watching and gives the peak in bytes. Not the child's
 * resourceUsage().maxRSS: Linux carries the spawning process's high-water mark across exec, so a
 * child of a test runner grown to 900 MB reported 900 MB whatever it did.
 */
function watchPeakRss(pid: number): () => Promise<number> {
  let peak = 0;
  let watching = true;
  const done = (async () => {
    while (watching) {
      try {
        const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        if (kb) peak = Math.max(peak, Number(kb[1]) * 1024);
      } catch {
        return; // exited
      }
      await Bun.sleep(2);
    }
  })();
  return async () => {
    watching = false;
    await done;
    return peak;
  };
}
