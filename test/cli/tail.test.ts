/**
 * `tradelite tail` as users run it: its own process over a real SQLite file, printing the bars
 * another connection writes while it runs, replaying from --since, and exiting 0 on Ctrl-C with
 * the cursor to resume from.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { openDatabase } from "../../src/mod.ts";
import { cli } from "../support/cli.ts";
import { PROJECT_ROOT, serverEnv } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-tail-cli-");
afterAll(() => dir.cleanup());
let files = 0;
const MINUTE = 60_000;
const T0 = Date.parse("2024-07-11T09:31:00+08:00");
const bar = (i: number) => ({ timestamp: T0 + i * MINUTE, open: 10 + i, high: 11 + i, low: 9 + i, close: 10.5 + i, volume: 100 + i });

function database() {
  const path = dir.file(`tail-${++files}.db`);
  return { path, db: openDatabase({ path, timezone: "Asia/Shanghai", barTimestamp: "end" }) };
}

function tail(args: string[], path: string) {
  return Bun.spawn(["bun", "scripts/tradelite.ts", "tail", ...args], { cwd: PROJECT_ROOT, env: serverEnv({ TRADELITE_DB: path }), stdout: "pipe", stderr: "pipe" });
}

/** The child's stdout read as it comes: the first `count` lines, or everything to its end. */
function output(child: ReturnType<typeof tail>) {
  const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
  let seen = "";
  const more = async () => {
    const { value, done } = await reader.read();
    if (!done) seen += new TextDecoder().decode(value);
    return !done;
  };
  return {
    async lines(count: number): Promise<string[]> {
      while (seen.split("\n").length <= count && (await more()));
      return seen.split("\n").slice(0, count);
    },
    async all(): Promise<string[]> {
      while (await more());
      return seen.trim().split("\n");
    },
  };
}

describe("tradelite tail", () => {
  test("--since replays what was stored after the cursor, then prints bars written while it runs, as NDJSON events; --count ends it", async () => {
    const { path, db } = database();
    try {
      const start = await db.watch().ready;
      db.insertBars("600519.SH", [bar(0), bar(1), bar(2)]);
      db.insertBars("000001.SZ", [bar(0)]);
      const child = tail(["600519.SH", "--since", start, "--json", "--count", "5"], path);
      const stdout = output(child);
      await stdout.lines(3);
      db.insertBars("600519.SH", [bar(3), bar(4)]);
      const [printed, stderr, code] = await Promise.all([stdout.all(), new Response(child.stderr).text(), child.exited]);
      expect(code).toBe(0);
      const events = printed.map((line) => JSON.parse(line));
      expect(events.map((event) => event.bar)).toEqual(db.getBars("600519.SH"));
      expect(events.every((event) => event.symbol === "600519.SH" && event.final === true && event.interval === null)).toBe(true);
      expect(stderr).toContain(`resume with: --since ${events[4].cursor}`);
    } finally {
      db.close();
    }
  });

  test("--interval prints each bucket forming and once final in the stored zone; Ctrl-C exits 0 with the cursor", async () => {
    const { path, db } = database();
    try {
      const start = await db.watch().ready;
      for (let i = 0; i < 5; i++) db.insertBars("600519.SH", [bar(i)]);
      const child = tail(["600519.SH", "--interval", "5m", "--since", start], path);
      const [line] = await output(child).lines(1);
      // The five minutes were one range by the time tail read them: one final 09:35 bucket.
      expect(line).toBe("600519.SH  2024-07-11T09:35:00+08:00  10 15 9 14.5 510 -  final");
      child.kill("SIGINT");
      const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
      expect(code).toBe(0);
      expect(stderr).toMatch(/resume with: --since [0-9a-f]+\.\d+\.\d+/);
    } finally {
      db.close();
    }
  });

  test("a malformed or foreign cursor, no symbol, a bad interval: exit 2 naming the mistake", async () => {
    const { path, db } = database();
    const other = database();
    try {
      const foreign = await other.db.watch().ready;
      const malformed = await cli(["tail", "600519.SH", "--since", "nope"], { TRADELITE_DB: path });
      expect(malformed.code).toBe(2);
      expect(malformed.stderr).toContain("since");
      const elsewhere = await cli(["tail", "600519.SH", "--since", foreign], { TRADELITE_DB: path });
      expect(elsewhere.code).toBe(2);
      expect(elsewhere.stderr).toContain("another database");
      expect((await cli(["tail"], { TRADELITE_DB: path })).code).toBe(2);
      const interval = await cli(["tail", "600519.SH", "--interval", "7m"], { TRADELITE_DB: path });
      expect(interval.code).toBe(2);
      expect(interval.stderr).toContain("--interval");
    } finally {
      db.close();
      other.db.close();
    }
  });
});
