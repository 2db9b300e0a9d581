/**
 * A writer process for the soak: `bun test/support/reliability-writer.ts '<WriterSpec JSON>'`.
 * Opens the file with openDatabase, prints `ready`, waits for the start file, then for
 * `seconds` writes batches in turn: new bars of its own symbols, its share of SHARED, and now
 * and then a batch it has already committed again (an upsert that must not change a count).
 * Each batch is one insertBars call, reported as a `commit ...` line (see Commit) the moment it
 * has returned, with a synchronous write so a line out is a batch committed. Any exception
 * ends the process with it on stderr and a non-zero exit.
 */
import { existsSync, writeSync } from "node:fs";
import { openDatabase } from "../../src/mod.ts";
import { barAt, ownSymbols, SHARED_SYMBOL, sharedIndex, type WriterSpec } from "./reliability-soak.ts";
import { seededRandom } from "./bars.ts";

if (import.meta.main) {
  const spec = JSON.parse(process.argv[2]!) as WriterSpec;
  const db = openDatabase({ path: spec.path });
  const random = seededRandom(1000 + spec.writer);
  const own = ownSymbols(spec.writer);
  /** Bars committed so far per own symbol (always whole batches), and SHARED bars. */
  const next = new Map(own.map((symbol) => [symbol, 0]));
  let nextShared = 0;
  let rows = 0;
  let batches = 0;
  writeSync(1, "ready\n");
  while (!existsSync(spec.startFile)) await Bun.sleep(1);
  const deadline = performance.now() + spec.seconds * 1000;
  for (let n = 0; performance.now() < deadline; n++) {
    const size = spec.batchSize;
    let line: string;
    if (n % 5 === 4) {
      const bars = Array.from({ length: size }, (_, j) => barAt(sharedIndex(spec.writers, spec.writer, nextShared + j)));
      const written = db.insertBars(SHARED_SYMBOL, bars);
      line = `commit shared ${SHARED_SYMBOL} ${nextShared} ${size} ${written}`;
      nextShared += size;
      rows += written;
    } else if (n % 7 === 6 && next.get(own[0]!)! > 0) {
      // Resend a committed batch: the same timestamps and values, upserted.
      const symbol = own[0]!;
      const first = Math.floor(random() * (next.get(symbol)! / size)) * size;
      const written = db.insertBars(symbol, Array.from({ length: size }, (_, j) => barAt(first + j)));
      line = `commit resend ${symbol} ${first} ${size} ${written}`;
    } else {
      const symbol = own[n % own.length]!;
      const first = next.get(symbol)!;
      // Half of the batches as columns, half as row objects: both input paths under contention.
      const bars = Array.from({ length: size }, (_, j) => barAt(first + j));
      const written =
        random() < 0.5
          ? db.insertBars(symbol, {
              timestamp: Float64Array.from(bars, (bar) => bar.timestamp),
              open: Float64Array.from(bars, (bar) => bar.open),
              high: Float64Array.from(bars, (bar) => bar.high),
              low: Float64Array.from(bars, (bar) => bar.low),
              close: Float64Array.from(bars, (bar) => bar.close),
              volume: Float64Array.from(bars, (bar) => bar.volume),
              amount: Float64Array.from(bars, (bar) => bar.amount),
            })
          : db.insertBars(symbol, bars);
      line = `commit new ${symbol} ${first} ${size} ${written}`;
      next.set(symbol, first + size);
      rows += written;
    }
    writeSync(1, `${line}\n`);
    batches++;
    if (spec.pauseMs > 0) await Bun.sleep(spec.pauseMs);
  }
  db.close();
  writeSync(1, `done ${batches} ${rows}\n`);
}
