/**
 * A process that writes access entries as `serve` does (JSON lines to its stdout, a pipe) for
 * test/api/access-log.test.ts: `count` entries numbered in their `bytes` field, each with a route
 * whose length varies so that lines straddle the writer's chunks, then ends as `how` says:
 * `exit` (process.exit at once), `return` (the event loop runs dry), `flush` (flushAccessLog,
 * then a line written after it, then process.exit).
 * Usage: bun test/support/access-log-writer.ts <count> exit|return|flush
 */
import { flushAccessLog, writeAccessEntry, type AccessEntry } from "../../src/entries/api.ts";

const [count, how] = [Number(process.argv[2]), process.argv[3]];
const entry = (n: number): AccessEntry => ({
  time: new Date(1_700_000_000_000 + n).toISOString(),
  method: "GET",
  route: `/v1/bars/${"x".repeat(n % 97)}"\n\u00e9`,
  status: 200,
  durationMs: n / 100,
  bytes: n,
  actor: "writer",
  client: null,
});
for (let n = 0; n < count; n++) writeAccessEntry(entry(n), true);
if (how === "flush") {
  await flushAccessLog();
  writeAccessEntry(entry(count), true);
  process.exit(0);
}
if (how === "exit") process.exit(0);
