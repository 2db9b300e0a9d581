/**
 * Temporary folders for tests that need real files on disk.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh folder under the system temp dir; `cleanup()` removes it and everything in it. */
export function tempDir(prefix = "tradelite-"): { path: string; file(name: string): string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    file: (name) => join(path, name),
    cleanup: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** Runs a Python 3 script (the sqlite3 module is built in) and returns its stdout, failing on a non-zero exit. */
export async function runPython(script: string, ...args: string[]): Promise<string> {
  const child = Bun.spawn(["python3", "-c", script, ...args], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  if (code !== 0) throw new Error(`python3 exited with ${code}: ${stderr}`);
  return stdout;
}
