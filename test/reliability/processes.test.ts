/**
 * Several real processes on one SQLite file at once, for TRADELITE_SOAK_SECONDS (default 10):
 * two Bun writers (openDatabase, insertBars in BEGIN IMMEDIATE transactions), one Bun reader
 * (the read API, read-only) and one Python sqlite3 reader (a second SQLite library, busy
 * timeout set). No process may see an error or an inconsistent read, and at the end the file
 * holds exactly the bars the writers reported committed, row for row.
 *
 * A longer soak: TRADELITE_SOAK_SECONDS=600 bun test --timeout 700000 test/reliability/processes.test.ts
 */
import { afterAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { Database as RawDatabase } from "bun:sqlite";
import { openDatabase } from "../../src/mod.ts";
import { tempDir } from "../support/files.ts";
import {
  allSymbols,
  barAt,
  indexOf,
  parseCommit,
  READER_PY,
  spawnSoakChild,
  type ChildReport,
  type ReaderSummary,
  type SoakSpec,
} from "../support/reliability-soak.ts";

const SECONDS = Number(process.env.TRADELITE_SOAK_SECONDS ?? 10);
if (!(SECONDS > 0)) throw new Error(`TRADELITE_SOAK_SECONDS must be a positive number, not ${process.env.TRADELITE_SOAK_SECONDS}`);
const WRITERS = 2;

const dir = tempDir("tradelite-soak-");
afterAll(() => dir.cleanup());

const support = (name: string) => new URL(`../support/${name}`, import.meta.url).pathname;

function lastJson<T>(report: ChildReport): T {
  return JSON.parse(report.lines.at(-1) ?? "null") as T;
}

test(
  `two writers, a Bun reader and a Python reader share one file for ${SECONDS} s: no errors, no inconsistent read, exact final counts`,
  async () => {
    const spec: SoakSpec = {
      path: dir.file("soak.db"),
      startFile: dir.file("start"),
      seconds: SECONDS,
      writers: WRITERS,
      batchSize: 111,
      pauseMs: 1,
    };
    // The file exists, with its schema, before anyone starts; this connection stays open (idle)
    // until the end, so the WAL and its index are never removed under a read-only client.
    const db = openDatabase({ path: spec.path });
    const children = [
      ...Array.from({ length: WRITERS }, (_, writer) =>
        spawnSoakChild(`writer ${writer}`, [process.execPath, support("reliability-writer.ts"), JSON.stringify({ ...spec, writer })]),
      ),
      spawnSoakChild("bun reader", [process.execPath, support("reliability-reader.ts"), JSON.stringify(spec)]),
      spawnSoakChild("python reader", ["python3", "-c", READER_PY, JSON.stringify(spec)]),
    ];
    let reports: ChildReport[];
    try {
      await Promise.all(children.map((child) => child.waitForReady()));
      writeFileSync(spec.startFile, "");
      const hardStop = setTimeout(() => children.forEach((child) => child.kill()), (SECONDS + 60) * 1000);
      reports = await Promise.all(children.map((child) => child.finished));
      clearTimeout(hardStop);
    } catch (error) {
      children.forEach((child) => child.kill());
      db.close();
      throw error;
    }

    // No process saw an error: every one exited 0 with nothing on stderr.
    expect(reports.map(({ name, exitCode, signalCode, stderr }) => ({ name, exitCode, signalCode, stderr }))).toEqual(
      reports.map(({ name }) => ({ name, exitCode: 0, signalCode: null, stderr: "" })),
    );

    // What the writers reported committed, per symbol, as bar indices.
    const expected = new Map(allSymbols(WRITERS).map((symbol) => [symbol, new Set<number>()]));
    const kinds = { new: 0, shared: 0, resend: 0 };
    const writerFigures: string[] = [];
    const reportProblems: string[] = [];
    let batches = 0;
    for (let writer = 0; writer < WRITERS; writer++) {
      const lines = reports[writer]!.lines;
      const commits = lines.filter((line) => line.startsWith("commit ")).map((line) => parseCommit(line, WRITERS, writer));
      const done = lines.at(-1)!.split(" ");
      expect(done[0]).toBe("done");
      expect(Number(done[1])).toBe(commits.length);
      let fresh = 0;
      for (const commit of commits) {
        // insertBars returns the distinct timestamps written, resent or not; a resend covers
        // bars already committed, anything else only new ones.
        if (commit.written !== spec.batchSize) reportProblems.push(`writer ${writer}: ${commit.symbol} wrote ${commit.written}`);
        const indices = expected.get(commit.symbol)!;
        for (const index of commit.indices) {
          if (indices.has(index) !== (commit.kind === "resend") && reportProblems.length < 10) {
            reportProblems.push(`writer ${writer}: ${commit.kind} ${commit.symbol} bar ${index}`);
          }
          indices.add(index);
        }
        if (commit.kind !== "resend") fresh += commit.indices.length;
        kinds[commit.kind]++;
      }
      expect(Number(done[2])).toBe(fresh);
      batches += commits.length;
      writerFigures.push(`writer ${writer} ${commits.length} batches/${fresh} rows`);
    }
    expect(reportProblems).toEqual([]);
    // Both writers made progress with every kind of batch (neither was starved out of the run).
    for (let writer = 0; writer < WRITERS; writer++) {
      const kindsOfWriter = new Set(reports[writer]!.lines.filter((l) => l.startsWith("commit ")).map((l) => l.split(" ")[1]));
      expect([...kindsOfWriter].sort()).toEqual(["new", "resend", "shared"]);
    }

    const bunReader = lastJson<ReaderSummary>(reports[WRITERS]!);
    const pythonReader = lastJson<ReaderSummary>(reports[WRITERS + 1]!);
    expect(bunReader.violations).toEqual([]);
    expect(pythonReader.violations).toEqual([]);
    expect(bunReader.reads).toBeGreaterThan(0);
    expect(pythonReader.reads).toBeGreaterThan(0);

    // The file holds exactly the committed bars: counts, then every timestamp and value.
    const overview = new Map(db.overview().map((row) => [row.symbol, row.count]));
    const expectedCounts = new Map([...expected].map(([symbol, indices]) => [symbol, indices.size]));
    expect(overview).toEqual(expectedCounts);
    // Streamed (a long soak writes tens of millions of rows), compared as the sorted index lists.
    let rows = 0;
    const mismatches: string[] = [];
    for (const [symbol, indices] of expected) {
      const want = Float64Array.from(indices).sort();
      let i = 0;
      for (const bar of db.iterateBars(symbol)) {
        const index = indexOf(bar.timestamp);
        const same = index === want[i] && Object.entries(barAt(index)).every(([field, value]) => bar[field as keyof typeof bar] === value);
        if (!same && mismatches.length < 10) mismatches.push(`${symbol} row ${i}: ${JSON.stringify(bar)}, expected bar ${want[i]}`);
        i++;
      }
      if (i !== want.length) mismatches.push(`${symbol}: ${i} rows, ${want.length} committed`);
      rows += i;
    }
    expect(mismatches).toEqual([]);
    expect(db.maintenance.integrityCheck().ok).toBe(true);
    // Every insertBars call is on the record, written in its own transaction: an entry of its own,
    // or a batch of its symbol's rollup (closed here); and the chain holds.
    db.audit.rollUp();
    expect(db.audit.verify().ok).toBe(true);
    const raw = new RawDatabase(spec.path, { readonly: true });
    const audited = raw
      .query("SELECT coalesce(sum(CASE action WHEN 'bars.insert' THEN 1 ELSE json_extract(details, '$.batches') END), 0) AS n FROM audit_log WHERE action IN ('bars.insert', 'bars.rollup')")
      .get() as { n: number };
    raw.close();
    expect(audited.n).toBe(batches);
    const busy = db.metrics.summary("sqlite.busy_wait.ms");
    db.close();

    console.log(
      `processes: ${SECONDS} s, ${batches} batches (${kinds.new} new, ${kinds.shared} shared, ${kinds.resend} resent), ` +
        `${rows} rows; ${writerFigures.join(", ")}; reads: bun ${bunReader.reads} (${bunReader.rows} rows), ` +
        `python ${pythonReader.reads} (${pythonReader.rows} rows); busy waits >= 50 ms: ${busy.count}` +
        `${busy.count > 0 ? ` (max ${Math.round(busy.max ?? 0)} ms)` : ""}; failures 0`,
    );
  },
  (SECONDS + 90) * 1000,
);
