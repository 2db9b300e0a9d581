/**
 * The shared layout of the multi-process soak (test/reliability/processes.test.ts): which bars
 * each writer writes, the line protocol every process speaks on stdout, a handle on a child
 * process, and the Python reader. Every bar's values are a function of its timestamp alone
 * (`seriesBar`, in both languages), so any reader can check any row it sees without knowing
 * what the writers have done, and a resent batch rewrites identical values.
 */
import { forEachLine } from "./api-bars.ts";
import { SERIES_PY, seriesBar } from "./interop-python.ts";

/** 2024-01-02 01:31 UTC (09:31 in Shanghai). Bar index i is stamped BASE + i minutes. */
export const SOAK_BASE = Date.UTC(2024, 0, 2, 1, 31);
export const MINUTE = 60_000;
/** The symbol both writers write, each on its own interleaved indices. */
export const SHARED_SYMBOL = "SHARED";

export interface SoakSpec {
  path: string;
  /** The parent creates this file once every process has said `ready`; the clock starts then. */
  startFile: string;
  seconds: number;
  writers: number;
  /**
   * Rows per batch. 111 = one 100-row, one 10-row and one 1-row statement, so every batch is
   * several statements that must commit together.
   */
  batchSize: number;
  /** Pause between a writer's batches, as a recorder waiting for its next bars does. */
  pauseMs: number;
}

export interface WriterSpec extends SoakSpec {
  writer: number;
}

/** Writer w's own symbols: nobody else writes them, so each is a prefix of whole batches. */
export function ownSymbols(writer: number): string[] {
  return [`W${writer}.A`, `W${writer}.B`];
}

export function allSymbols(writers: number): string[] {
  return [...Array.from({ length: writers }, (_, w) => ownSymbols(w)).flat(), SHARED_SYMBOL];
}

/** On SHARED, writer w's k-th bar has index k * writers + w: distinct across writers, so counts add up. */
export function sharedIndex(writers: number, writer: number, k: number): number {
  return k * writers + writer;
}

export function barAt(index: number) {
  return seriesBar(SOAK_BASE, index);
}

export function indexOf(timestamp: number): number {
  return (timestamp - SOAK_BASE) / MINUTE;
}

/**
 * A committed batch as a writer reports it, the moment `insertBars` has returned:
 * `commit <kind> <symbol> <first index> <rows> <written>`. Indices are bar indices (on SHARED,
 * index = k * writers + writer, consecutive k). `resend` upserts a batch already committed.
 */
export interface Commit {
  kind: "new" | "shared" | "resend";
  symbol: string;
  indices: number[];
  written: number;
}

export function parseCommit(line: string, writers: number, writer: number): Commit {
  const [, kind, symbol, first, rows, written] = line.split(" ");
  const start = Number(first);
  const count = Number(rows);
  const indices =
    kind === "shared"
      ? Array.from({ length: count }, (_, j) => sharedIndex(writers, writer, start + j))
      : Array.from({ length: count }, (_, j) => start + j);
  return { kind: kind as Commit["kind"], symbol: symbol!, indices, written: Number(written) };
}

export interface ChildReport {
  name: string;
  exitCode: number | null;
  signalCode: string | number | null;
  stderr: string;
  lines: string[];
}

export interface SoakChild {
  readonly name: string;
  readonly lines: readonly string[];
  waitForReady(timeoutMs?: number): Promise<void>;
  readonly finished: Promise<ChildReport>;
  kill(): void;
}

/** Starts a child whose stdout is a line protocol; `ready` on a line of its own means it has opened the file. */
export function spawnSoakChild(name: string, command: string[]): SoakChild {
  const child = Bun.spawn(command, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const lines: string[] = [];
  let exited = false;
  const reading = forEachLine(child.stdout, (line) => lines.push(line));
  const finished = Promise.all([reading, new Response(child.stderr).text(), child.exited]).then(([, stderr, exitCode]) => {
    exited = true;
    return { name, exitCode, signalCode: child.signalCode, stderr, lines };
  });
  return {
    name,
    lines,
    finished,
    async waitForReady(timeoutMs = 20_000) {
      const deadline = performance.now() + timeoutMs;
      while (!lines.includes("ready")) {
        if (exited) {
          const report = await finished;
          throw new Error(`${name} exited ${report.exitCode} before it was ready:\n${report.stderr}`);
        }
        if (performance.now() > deadline) throw new Error(`${name} was not ready after ${timeoutMs} ms`);
        await Bun.sleep(5);
      }
    },
    kill: () => child.kill(),
  };
}

/** What each reader prints as its last line. */
export interface ReaderSummary {
  reads: number;
  rows: number;
  violations: string[];
}

/**
 * The Python reader: a second client with its own SQLite library, read-only, with a busy
 * timeout as the README asks. Each pass reads every symbol's count, first and last index in one
 * statement (one snapshot), the total count, and a random range of a random symbol, checking
 * every row's values. Own symbols must always be a prefix of whole batches (contiguous from
 * index 0, count a multiple of the batch), counts never go down. An exception ends the process
 * with a traceback on stderr and a non-zero exit: that is a failure, not a violation.
 */
export const READER_PY = `
import json, random, sqlite3, sys, time
${SERIES_PY}
spec = json.loads(sys.argv[1])
base, batch, writers = ${SOAK_BASE}, spec["batchSize"], spec["writers"]
conn = sqlite3.connect("file:%s?mode=ro" % spec["path"], uri=True, timeout=5)
conn.execute("PRAGMA busy_timeout = 5000")
print("ready", flush=True)
while True:
    try:
        open(spec["startFile"]).close()
        break
    except FileNotFoundError:
        time.sleep(0.002)
deadline = time.monotonic() + spec["seconds"]
out = {"reads": 0, "rows": 0, "violations": []}
last = {}
last_total = 0
rng = random.Random(7)
def violation(text):
    if len(out["violations"]) < 20:
        out["violations"].append(text)
while time.monotonic() < deadline:
    rows = conn.execute(
        "SELECT symbol, count(*), min(timestamp), max(timestamp) FROM market_data GROUP BY symbol").fetchall()
    out["reads"] += 1
    for symbol, count, first, last_ts in rows:
        if count < last.get(symbol, 0):
            violation("%s: count went down from %d to %d" % (symbol, last[symbol], count))
        last[symbol] = count
        if count % batch != 0:
            violation("%s: count %d is not a whole number of batches" % (symbol, count))
        if symbol != "${SHARED_SYMBOL}" and (first != base or last_ts != base + (count - 1) * 60000):
            violation("%s: %d rows from %d to %d are not a prefix" % (symbol, count, first, last_ts))
    total = conn.execute("SELECT count(*) FROM market_data").fetchone()[0]
    out["reads"] += 1
    if total < last_total:
        violation("total count went down from %d to %d" % (last_total, total))
    last_total = total
    if rows:
        symbol, count = rows[rng.randrange(len(rows))][:2]
        span = count * (writers if symbol == "${SHARED_SYMBOL}" else 1)
        lo = rng.randrange(max(span, 1))
        hi = lo + rng.randrange(1, 500)
        got = conn.execute(
            "SELECT timestamp, open, high, low, close, volume, amount FROM market_data"
            " WHERE symbol = ? AND timestamp BETWEEN ? AND ? ORDER BY timestamp",
            (symbol, base + lo * 60000, base + hi * 60000)).fetchall()
        out["reads"] += 1
        out["rows"] += len(got)
        for row in got:
            index = (row[0] - base) // 60000
            if tuple(row) != series_bar(base, index):
                violation("%s: row %d reads %r" % (symbol, index, row))
        if symbol != "${SHARED_SYMBOL}":
            indices = [(row[0] - base) // 60000 for row in got]
            if indices != list(range(lo, lo + len(indices))) or len(indices) < min(hi + 1, count) - lo:
                violation("%s: range %d..%d read %d rows, not contiguous from %d" % (symbol, lo, hi, len(indices), lo))
result = conn.execute("PRAGMA quick_check").fetchone()[0]
if result != "ok":
    violation("quick_check: %s" % result)
conn.close()
print(json.dumps(out), flush=True)
`;
