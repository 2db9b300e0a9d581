/**
 * A recorder killed with SIGKILL between rollups (src/domain/audit-rollup.ts): a real child
 * process writes one-bar inserts through openStore and notes each acknowledged one in a file,
 * until it is killed mid-stream. Used by the SQLite and PostgreSQL rollup tests.
 */
import { expect } from "bun:test";
import { readFileSync } from "node:fs";
import { barsDigest, openStore, type StoreOptions } from "../../src/mod.ts";

export const RECORDED_SYMBOLS = ["600000.SH", "000001.SZ"];
const T0 = Date.UTC(2024, 0, 2, 1, 31);

const CHILD = `
import { appendFileSync, writeFileSync } from "node:fs";
import { openStore } from ${JSON.stringify(`${import.meta.dir}/../../src/mod.ts`)};
const [options, acks, ready] = [JSON.parse(process.argv[1]), process.argv[2], process.argv[3]];
const symbols = ${JSON.stringify(RECORDED_SYMBOLS)};
const store = await openStore(options);
for (let minute = 0; ; minute++) {
  for (const symbol of symbols) {
    const price = 10 + (minute % 50) / 100;
    const timestamp = ${T0} + minute * 60000;
    await store.insertBars(symbol, [{ timestamp, open: price, high: price + 0.02, low: price - 0.01, close: price + 0.01, volume: 100 + minute, amount: price * (100 + minute) }]);
    // Acknowledged: the insert committed before this line runs.
    appendFileSync(acks, symbol + " " + timestamp + "\\n");
  }
  if (minute === 60) writeFileSync(ready, "");
}
`;

/**
 * Runs the recorder on `options` (a store's openStore options) until it has acknowledged 60
 * minutes of both symbols, kills it with SIGKILL, and returns what it acknowledged per symbol.
 */
export async function recordUntilKilled(options: StoreOptions, dir: { file(name: string): string }): Promise<Map<string, number[]>> {
  const acks = dir.file("acks.txt");
  const ready = dir.file("ready");
  const child = Bun.spawn(["bun", "-e", CHILD, JSON.stringify(options), acks, ready], { stdout: "pipe", stderr: "pipe" });
  const deadline = performance.now() + 60_000;
  while (!(await Bun.file(ready).exists())) {
    if (performance.now() > deadline || child.exitCode !== null) {
      child.kill("SIGKILL");
      throw new Error(`the recorder never got going: ${await new Response(child.stderr).text()}`);
    }
    await Bun.sleep(10);
  }
  child.kill("SIGKILL");
  expect(await child.exited).not.toBe(0);
  expect(child.signalCode).toBe("SIGKILL");
  const acknowledged = new Map<string, number[]>(RECORDED_SYMBOLS.map((symbol) => [symbol, []]));
  for (const line of readFileSync(acks, "utf8").split("\n")) {
    // A line the kill cut short is not an acknowledgement.
    const [symbol, timestamp] = line.split(" ");
    if (symbol && timestamp && /^\d+$/.test(timestamp)) acknowledged.get(symbol)?.push(Number(timestamp));
  }
  return acknowledged;
}

/**
 * After the kill: every acknowledged write is in its symbol's pending rollup, and once closed
 * (at an opening past the interval, or by rollUp()) the entries count every stored bar and
 * their digests match them.
 */
export async function expectRollupsComplete(options: StoreOptions, acknowledged: Map<string, number[]>): Promise<void> {
  const store = await openStore(options);
  try {
    const check = await store.audit.verifyRollups();
    expect(check.pending).toBe(0);
    expect(check.ok).toBe(true);
    const rollups = await store.audit.query({ action: "bars.rollup" });
    expect(rollups.map((entry) => entry.entity).sort()).toEqual([...RECORDED_SYMBOLS].sort());
    for (const entry of rollups) {
      const symbol = entry.entity!;
      const stored = await store.getBars(symbol);
      const details = entry.details as { rows: number; batches: number; start: number; end: number; stored: number; sha256: string };
      const acked = acknowledged.get(symbol)!;
      expect(acked.length).toBeGreaterThanOrEqual(61);
      // Every acknowledged bar is stored and counted; a commit the kill left unacknowledged may be too.
      expect(stored.map((bar) => bar.timestamp)).toEqual(expect.arrayContaining(acked));
      expect(details.rows).toBe(stored.length);
      expect(details.batches).toBe(stored.length);
      expect(details.rows).toBeGreaterThanOrEqual(acked.length);
      expect(details.start).toBe(stored[0]!.timestamp);
      expect(details.end).toBe(stored.at(-1)!.timestamp);
      expect({ stored: details.stored, sha256: details.sha256 }).toEqual(barsDigest(stored));
    }
    expect((await store.audit.verify()).ok).toBe(true);
  } finally {
    await store.close();
  }
}
