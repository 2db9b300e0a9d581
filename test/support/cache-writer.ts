/**
 * A session cache writer in its own process, for the crash and two-process tests. Run as a
 * script (`bun test/support/cache-writer.ts '<spec JSON>'`) it opens the database and the cache,
 * prints `ready`, waits for `startFile` if given, then calls storeBars once per batch id and
 * prints `ack <id> <compacted 0|1> <time>` on stdout the moment each call has resolved, so every
 * id the parent reads was acknowledged (time: epoch ms with a fraction, to show interleaving). Recovery events are printed as `event <json>`, the end as `done`.
 * Imported, it gives the parent the same batches and a handle on the child.
 */
import { existsSync, writeSync } from "node:fs";
import { openStore, type Bar } from "../../src/mod.ts";
import { SessionCache } from "../../src/cache/session-cache.ts";
import type { CacheRecoveryEvent } from "../../src/domain/cache.ts";
import { randomBars } from "./bars.ts";

export interface CacheWriterSpec {
  dbPath: string;
  /** Instead of the SQLite file at dbPath: the cache over this PostgreSQL database. */
  postgresUrl?: string;
  cacheDir: string;
  symbol: string;
  /** Batch ids to store, in order; batch `id` holds bars `id * batchSize ... + batchSize - 1`. */
  ids: number[];
  batchSize: number;
  /** Timestamp of bar 0; bar k is stamped base + k * stepMs. */
  base: number;
  stepMs: number;
  compactEvery: number;
  writeThrough: boolean;
  /** Wait for this file before the first write, so that two writers start together. */
  startFile?: string;
  /**
   * Sleep this long between writes, as a recorder waiting for its next bar does. It gives a
   * second writer a chance at the lock: SQLite's busy handler backs off for up to 100 ms, so two
   * writers in tight loops tend to take turns in long bursts.
   */
  pauseMs?: number;
}

/** The bars of batch `id`: the same in the child that writes them and the parent that checks. */
export function writerBatch(spec: Pick<CacheWriterSpec, "batchSize" | "base" | "stepMs">, id: number): Bar[] {
  const timestamps = Array.from({ length: spec.batchSize }, (_, k) => spec.base + (id * spec.batchSize + k) * spec.stepMs);
  return randomBars(timestamps, id + 1, 10 + (id % 90));
}

export interface CacheWriterReport {
  exitCode: number | null;
  signalCode: NodeJS.Signals | number | null;
  stderr: string;
  /** Acknowledged batch ids, in order, and when each was acknowledged (epoch ms, fractional). */
  acks: number[];
  ackTimes: number[];
  /** How many acknowledged calls compacted. */
  compactions: number;
  events: CacheRecoveryEvent[];
  done: boolean;
}

export interface CacheWriterProcess {
  readonly child: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** Acknowledged batch ids read so far. */
  readonly acks: readonly number[];
  /** Resolves once `count` acks were read; rejects if the child exits first or the time runs out. */
  waitForAcks(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves once the child has opened the database and the cache (before its first write). */
  waitForReady(timeoutMs?: number): Promise<void>;
  /** Resolves when the child has exited and its output is read to the end. */
  readonly finished: Promise<CacheWriterReport>;
}

export function spawnCacheWriter(spec: CacheWriterSpec): CacheWriterProcess {
  const child = Bun.spawn([process.execPath, import.meta.path, JSON.stringify(spec)], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const report: CacheWriterReport = {
    exitCode: null,
    signalCode: null,
    stderr: "",
    acks: [],
    ackTimes: [],
    compactions: 0,
    events: [],
    done: false,
  };
  let ready = false;
  let exited = false;
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.startsWith("ack ")) {
          const [, id, compacted, time] = line.split(" ");
          report.acks.push(Number(id));
          report.ackTimes.push(Number(time));
          if (compacted === "1") report.compactions++;
        } else if (line.startsWith("event ")) {
          report.events.push(JSON.parse(line.slice(6)));
        } else if (line === "ready") {
          ready = true;
        } else if (line === "done") {
          report.done = true;
        }
      }
    }
  })();
  const finished = Promise.all([reading, new Response(child.stderr).text(), child.exited]).then(([, stderr, exitCode]) => {
    exited = true;
    return { ...report, exitCode, signalCode: child.signalCode, stderr };
  });
  const waitUntil = async (done: () => boolean, what: string, timeoutMs: number) => {
    const deadline = performance.now() + timeoutMs;
    while (!done()) {
      if (exited || child.exitCode !== null) {
        const { stderr } = await finished;
        throw new Error(`writer exited before ${what} (${report.acks.length} acks):\n${stderr}`);
      }
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what} (${report.acks.length} acks)`);
      await Bun.sleep(1);
    }
  };
  return {
    child,
    acks: report.acks,
    finished,
    waitForAcks: (count, timeoutMs = 20_000) => waitUntil(() => report.acks.length >= count, `${count} acks`, timeoutMs),
    waitForReady: (timeoutMs = 20_000) => waitUntil(() => ready, "ready", timeoutMs),
  };
}

if (import.meta.main) {
  const spec = JSON.parse(process.argv[2]!) as CacheWriterSpec;
  const store = spec.postgresUrl
    ? await openStore({ backend: "postgres", url: spec.postgresUrl, actor: "cache-writer" })
    : await openStore({ backend: "sqlite", path: spec.dbPath });
  const cache = new SessionCache({
    store,
    dir: spec.cacheDir,
    compactEvery: spec.compactEvery,
    writeThrough: spec.writeThrough,
    onRecovery: (event) => writeSync(1, `event ${JSON.stringify(event)}\n`),
  });
  writeSync(1, "ready\n");
  if (spec.startFile) while (!existsSync(spec.startFile)) await Bun.sleep(1);
  for (const id of spec.ids) {
    const { compacted } = await cache.storeBars(spec.symbol, writerBatch(spec, id));
    // Synchronous, unbuffered: once this line is out, the parent may kill us.
    writeSync(1, `ack ${id} ${compacted ? 1 : 0} ${performance.timeOrigin + performance.now()}\n`);
    if (spec.pauseMs) await Bun.sleep(spec.pauseMs);
  }
  await store.close();
  writeSync(1, "done\n");
}
