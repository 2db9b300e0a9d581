/**
 * Ways to run out of space for the full-disk tests (test/reliability/full-disk.test.ts).
 *
 * `PRAGMA max_page_count` is a property of one connection, not of the file: setting it on a
 * second connection caps that connection only. tradelite does not expose its connection, so
 * `captureConnection` records the bun:sqlite Database object that `openDatabase` creates (by
 * watching bun:sqlite's prototype methods while the open runs, then restoring them): the cap is
 * then set on the very connection tradelite writes with. Nothing in tradelite is changed.
 *
 * A real full file system is a small tmpfs (`mountTmpfs`, root only) filled by a ballast file
 * (`fillDisk`) that is deleted to free the space again.
 */
import { Database as RawDatabase } from "bun:sqlite";
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { runPython } from "./interop-python.ts";

const WATCHED = ["run", "query", "prepare", "exec"] as const;

/** Runs `open` and returns what it returned with the one bun:sqlite connection it opened. */
export function captureConnection<T>(open: () => T): { value: T; sqlite: RawDatabase } {
  const seen = new Set<RawDatabase>();
  const prototype = RawDatabase.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = WATCHED.map((name) => [name, prototype[name]!] as const);
  for (const [name, original] of originals) {
    prototype[name] = function (this: RawDatabase, ...args: unknown[]) {
      seen.add(this);
      return original.apply(this, args);
    };
  }
  let value: T;
  try {
    value = open();
  } finally {
    for (const [name, original] of originals) prototype[name] = original;
  }
  if (seen.size !== 1) throw new Error(`expected the open to use one bun:sqlite connection, saw ${seen.size}`);
  return { value, sqlite: [...seen][0]! };
}

export function pragmaNumber(sqlite: RawDatabase, name: string): number {
  return Number(Object.values(sqlite.query(`PRAGMA ${name}`).get() as Record<string, number>)[0]);
}

/** Caps the connection's file at its current size plus `extraPages`; returns the cap. */
export function capPages(sqlite: RawDatabase, extraPages: number): number {
  const cap = pragmaNumber(sqlite, "page_count") + extraPages;
  sqlite.run(`PRAGMA max_page_count = ${cap}`);
  const set = pragmaNumber(sqlite, "max_page_count");
  if (set !== cap) throw new Error(`max_page_count is ${set}, not ${cap}`);
  return cap;
}

/** SQLite's largest cap: no cap. */
export function uncap(sqlite: RawDatabase): void {
  sqlite.run("PRAGMA max_page_count = 4294967294");
}

export interface Mount {
  readonly path: string;
  /** Null when mounted; otherwise why not (the variant is skipped, saying so). */
  readonly unavailable: string | null;
  unmount(): void;
}

/** Mounts a tmpfs of `size` (e.g. "2m") at `path`, or says why it could not. */
export function mountTmpfs(path: string, size: string): Mount {
  mkdirSync(path, { recursive: true });
  let unavailable: string | null = null;
  try {
    const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", path], { stderr: "pipe" });
    if (mount.exitCode !== 0) unavailable = `mount -t tmpfs failed (${mount.stderr.toString().trim().split("\n")[0] || `exit ${mount.exitCode}`})`;
  } catch (error) {
    unavailable = `mount could not run (${(error as Error).message})`;
  }
  let mounted = unavailable === null;
  return {
    path,
    unavailable,
    unmount() {
      if (!mounted) return;
      mounted = false;
      // Lazy, so that a file left open by a failed test cannot keep the mount alive.
      Bun.spawnSync(["umount", "-l", path]);
    },
  };
}

/** Fills the file system holding `dir` with a ballast file until a write fails with ENOSPC. */
export function fillDisk(dir: string): { bytes: number; free(): void } {
  const path = join(dir, "ballast");
  const fd = openSync(path, "w");
  let bytes = 0;
  try {
    for (const size of [1 << 16, 4096, 512, 1]) {
      const chunk = new Uint8Array(size).fill(0x5a);
      for (;;) {
        try {
          bytes += writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  const { bavail } = statfsSync(dir);
  if (bavail !== 0) throw new Error(`the disk still has ${bavail} free blocks after writing ${bytes} bytes of ballast`);
  return { bytes, free: () => unlinkSync(path) };
}

export function removeQuietly(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

export interface FileReport {
  integrity: string;
  counts: Record<string, number>;
}

/**
 * What an independent client (Python's sqlite3, read-only) sees in the file: integrity_check
 * and the bars per symbol. It writes nothing, so it works on a full disk.
 */
export function inspectWithPython(path: string): Promise<FileReport> {
  return runPython<FileReport>(
    `
import json, sqlite3, sys
conn = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
integrity = "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
counts = dict(conn.execute("SELECT symbol, count(*) FROM market_data GROUP BY symbol").fetchall())
conn.close()
print(json.dumps({"integrity": integrity, "counts": counts}))
`,
    [path],
  );
}
