/**
 * A second, independent SQLite client for interop tests: Python 3's built-in sqlite3 module,
 * run as its own process, the way a Python recorder or notebook shares the file with tradelite.
 * Scripts print one JSON document on their last stdout line.
 */
import { existsSync } from "node:fs";

export interface PythonProcess<T> {
  /** Resolves with the script's JSON once it exits 0; rejects with its stderr otherwise. */
  readonly result: Promise<T>;
  /** True once the process has exited. */
  readonly exited: boolean;
}

/** Starts `python3 -c script ...args` without waiting for it. */
export function startPython<T>(script: string, args: readonly string[] = []): PythonProcess<T> {
  const child = Bun.spawn(["python3", "-c", script, ...args], { stdout: "pipe", stderr: "pipe" });
  let exited = false;
  void child.exited.then(() => {
    exited = true;
  });
  const result = (async () => {
    const [stdout, stderr, exitCode] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    if (exitCode !== 0) throw new Error(`python3 exited ${exitCode}:\n${stderr}\n${stdout}`);
    const lines = stdout.trim().split("\n");
    return JSON.parse(lines[lines.length - 1]!) as T;
  })();
  // Callers may not await `result` until later; keep an early failure from being "unhandled".
  result.catch(() => {});
  return {
    result,
    get exited() {
      return exited;
    },
  };
}

export function runPython<T>(script: string, args: readonly string[] = []): Promise<T> {
  return startPython<T>(script, args).result;
}

/**
 * Waits for the file a script creates to say it is ready (connected, about to work). If the
 * script dies first, its own error is thrown instead of a timeout.
 */
export async function waitForReady(python: PythonProcess<unknown>, path: string, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!existsSync(path)) {
    if (python.exited) {
      await python.result;
      throw new Error(`python exited without creating ${path}`);
    }
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${path}`);
    await Bun.sleep(5);
  }
}

/**
 * The bar every test side computes for index `i` of a generated series, in both languages.
 * Quarter steps and integer volumes keep every value, and every product, exact in binary.
 */
export const SERIES_PY = `
def series_bar(base, i):
    open_ = 100 + (i % 50) * 0.25
    volume = 1000 + i
    return (base + i * 60000, open_, open_ + 1, open_ - 1, open_ + 0.5, volume, volume * open_)
`;

export function seriesBar(base: number, i: number) {
  const open = 100 + (i % 50) * 0.25;
  const volume = 1000 + i;
  return { timestamp: base + i * 60_000, open, high: open + 1, low: open - 1, close: open + 0.5, volume, amount: volume * open };
}

export function seriesBars(base: number, from: number, count: number) {
  return Array.from({ length: count }, (_, k) => seriesBar(base, from + k));
}
