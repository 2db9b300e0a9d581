/**
 * `tradelite demo`: a fresh A-share folder through the session cache, the overview, a server, and
 * three curl commands that work when run as printed (with the real curl).
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { openDatabase } from "../../src/mod.ts";
import { DEMO_SYMBOLS } from "../../scripts/cli/demo.ts";
import { drain, killAllServers, PROJECT_ROOT, serverEnv } from "../support/api-server.ts";
import { tempDir } from "../support/files.ts";

const dir = tempDir("tradelite-demo-");
afterAll(async () => {
  await killAllServers();
  dir.cleanup();
});

test("demo writes five symbols of session minutes through the cache, serves them, and its three curl commands answer", async () => {
  const folder = dir.file("demo");
  const child = Bun.spawn(["bun", "scripts/tradelite.ts", "demo", "--dir", folder, "--days", "2"], {
    cwd: PROJECT_ROOT,
    env: serverEnv({ TRADELITE_PORT: "0" }),
    stdout: "pipe",
    stderr: "pipe",
  });
  let stdout = "";
  const reading = drain(child.stdout, (text) => (stdout += text));
  try {
    for (let tries = 0; tries < 1_500 && !stdout.includes("and the data browser:"); tries++) await Bun.sleep(20);
    expect(stdout).toContain("and the data browser:");
    expect(stdout).toMatch(/bars\s+2,400/);
    for (const { symbol } of DEMO_SYMBOLS) expect(stdout).toMatch(new RegExp(`${symbol.replace(".", "\\.")}\\s+480\\s`));

    const commands = stdout.split("\n").filter((line) => line.startsWith("  curl "));
    expect(commands.length).toBe(3);
    const answers = await Promise.all(
      commands.map(async (command) => {
        const curl = Bun.spawn(["sh", "-c", command.trim()], { stdout: "pipe", stderr: "pipe" });
        const [text, code] = await Promise.all([new Response(curl.stdout).text(), curl.exited]);
        expect(code).toBe(0);
        return text;
      }),
    );
    expect(JSON.parse(answers[0]!)).toMatchObject({ backend: "sqlite-worker", timezone: "Asia/Shanghai", barTimestamp: "end" });
    const fiveMinutes = JSON.parse(answers[1]!) as { timestamp: number }[];
    expect(fiveMinutes.length).toBe(48); // end-stamped: 09:35 ... 11:30 and 13:05 ... 15:00
    const csv = answers[2]!.trimEnd().split("\n");
    expect(csv[0]).toBe("timestamp,open,high,low,close,volume,amount");
    expect(csv.length).toBe(241);

    // The bars are what the session would hold: 240 a day, volume in lots, amount within the bar.
    const db = openDatabase({ path: join(folder, "trading.db"), readonly: true });
    try {
      const bars = db.getBars("600519.SH");
      expect(bars.length).toBe(480);
      for (const bar of bars) {
        expect(bar.volume! % 100).toBe(0);
        expect(bar.amount!).toBeGreaterThanOrEqual((bar.volume! * bar.low!) - 0.01);
        expect(bar.amount!).toBeLessThanOrEqual((bar.volume! * bar.high!) + 0.01);
        const minutes = new Date(bar.timestamp + 8 * 3_600_000).getUTCHours() * 60 + new Date(bar.timestamp).getUTCMinutes();
        expect((minutes >= 9 * 60 + 31 && minutes <= 11 * 60 + 30) || (minutes >= 13 * 60 + 1 && minutes <= 15 * 60)).toBe(true);
      }
      expect(db.cacheEntries.list().map((entry) => entry.symbol).sort()).toEqual(DEMO_SYMBOLS.map((entry) => entry.symbol).sort());
    } finally {
      db.close();
    }
  } finally {
    child.kill("SIGTERM");
  }
  expect(await child.exited).toBe(0);
  await reading;

  const again = Bun.spawnSync(["bun", "scripts/tradelite.ts", "demo", "--dir", folder, "--no-serve"], { cwd: PROJECT_ROOT, env: serverEnv({}) });
  expect(again.exitCode).toBe(1);
  expect(again.stderr.toString()).toContain("already exists");
});
