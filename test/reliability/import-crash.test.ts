/**
 * kill -9 of an importing process at random points: `tradelite import` in a child process
 * (TRADELITE_IMPORT_TRACE=1 makes it print each batch it has committed) is killed with SIGKILL
 * at a seeded random moment, 20 times. After each kill the file must pass integrity_check, hold
 * every batch the child reported committed, and no part of a batch it had not finished: the rows
 * stored are exactly the file's first k whole batches, for k at least the batches reported (one
 * more may have committed before its report got out). A re-run then completes the import.
 */
import { afterAll, expect, test } from "bun:test";
import { Database as RawDatabase } from "bun:sqlite";
import { mulberry32 } from "../../scripts/synthetic-bars.ts";
import { drain, PROJECT_ROOT, serverEnv } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-import-crash-");
afterAll(() => dir.cleanup());

const TRIALS = Number(process.env.TRADELITE_CRASH_TRIALS || 20);
const ROWS = 300_000;
const BATCH = 10_000;
const T0 = Date.UTC(2021, 0, 4, 1, 31);
const MINUTE = 60_000;

async function writeFile(path: string): Promise<void> {
  const writer = Bun.file(path).writer();
  writer.write("timestamp,open,high,low,close,volume,amount\n");
  for (let i = 0; i < ROWS; i++) {
    const price = 20 + (i % 500) / 100;
    writer.write(`${new Date(T0 + i * MINUTE).toISOString()},${price},${price + 0.05},${price - 0.05},${price},${100 * (1 + (i % 50))},${price * 100 * (1 + (i % 50))}\n`);
  }
  await writer.end();
}

function readBack(path: string): { integrity: string; count: number; min: number | null; max: number | null } {
  const raw = new RawDatabase(path);
  try {
    raw.exec("PRAGMA busy_timeout = 5000");
    const integrity = (raw.query("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check;
    // A kill before the schema's transaction committed (a slow start on a loaded machine) leaves
    // a database without tables: nothing stored, which is a whole number of batches too.
    if (raw.query("SELECT 1 FROM sqlite_master WHERE name = 'market_data'").get() === null) return { integrity, count: 0, min: null, max: null };
    const row = raw.query("SELECT count(*) AS count, min(timestamp) AS min, max(timestamp) AS max FROM market_data WHERE symbol = 'CRASH'").get() as { count: number; min: number | null; max: number | null };
    return { integrity, ...row };
  } finally {
    raw.close();
  }
}

test(`${TRIALS} imports killed with SIGKILL at random points leave whole batches only, every reported one among them`, async () => {
  const file = dir.file("crash.csv");
  await writeFile(file);
  const random = mulberry32(20_261_126);
  // How long a whole import takes here, start to exit: the kills fall within it.
  const timed = performance.now();
  const whole = Bun.spawnSync(["bun", "scripts/tradelite.ts", "import", file, "--symbol", "CRASH", "--batch", String(BATCH), "--db", dir.file("whole.db")], { cwd: PROJECT_ROOT, env: serverEnv({}) });
  expect(whole.exitCode).toBe(0);
  const wholeMs = performance.now() - timed;
  const figures = { trials: 0, killedMidImport: 0, killedBeforeFirstCommit: 0, finishedBeforeKill: 0, batchesReported: 0, batchesFound: 0, failures: 0 };
  for (let trial = 0; trial < TRIALS; trial++) {
    const db = dir.file(`crash-${trial}.db`);
    const child = Bun.spawn(["bun", "scripts/tradelite.ts", "import", file, "--symbol", "CRASH", "--batch", String(BATCH), "--db", db], {
      cwd: PROJECT_ROOT,
      env: serverEnv({ TRADELITE_IMPORT_TRACE: "1" }),
      stdout: "pipe",
      stderr: "pipe",
    });
    let stdout = "";
    const reading = drain(child.stdout, (text) => (stdout += text));
    // Anywhere from around the first commit to just before the last.
    await Bun.sleep(Math.floor(wholeMs * (0.15 + 0.8 * random())));
    child.kill("SIGKILL");
    const code = await child.exited;
    await reading;
    const reported = stdout.split("\n").filter((line) => line.startsWith("committed CRASH lines "));
    const stored = readBack(db);
    figures.trials++;
    figures.batchesReported += reported.length;
    figures.batchesFound += stored.count / BATCH;
    if (child.signalCode !== "SIGKILL") figures.finishedBeforeKill++;
    else if (stored.count === 0) figures.killedBeforeFirstCommit++;
    else figures.killedMidImport++;
    const context = { trial, code, signal: child.signalCode, reported: reported.length, stored };
    try {
      expect(stored.integrity, JSON.stringify(context)).toBe("ok");
      // Whole batches only, and at least every reported one (at most one more, committed unreported).
      expect(stored.count % BATCH, JSON.stringify(context)).toBe(0);
      expect(stored.count / BATCH, JSON.stringify(context)).toBeGreaterThanOrEqual(reported.length);
      expect(stored.count / BATCH, JSON.stringify(context)).toBeLessThanOrEqual(reported.length + 1);
      // Each reported batch covers the lines it said, in order: batch b is lines 2+b*BATCH .. 1+(b+1)*BATCH.
      reported.forEach((line, b) => expect(line).toBe(`committed CRASH lines ${2 + b * BATCH}-${1 + (b + 1) * BATCH} rows ${BATCH}`));
      // And the stored rows are exactly the file's first rows, no gap: unique minutes from T0.
      if (stored.count > 0) expect([stored.min, stored.max]).toEqual([T0, T0 + (stored.count - 1) * MINUTE]);
    } catch (error) {
      figures.failures++;
      throw error;
    }
  }
  // After a crash, running the same import again completes it: rows already stored are rewritten.
  const last = dir.file(`crash-${TRIALS - 1}.db`);
  const rerun = Bun.spawnSync(["bun", "scripts/tradelite.ts", "import", file, "--symbol", "CRASH", "--db", last], { cwd: PROJECT_ROOT, env: serverEnv({}) });
  expect(rerun.exitCode).toBe(0);
  expect(readBack(last)).toEqual({ integrity: "ok", count: ROWS, min: T0, max: T0 + (ROWS - 1) * MINUTE });
  console.log(`import crash trials: ${JSON.stringify({ ...figures, wholeImportMs: Math.round(wholeMs) })}`);
  expect(figures.killedMidImport).toBeGreaterThan(TRIALS / 4);
});
