import { describe, expect, test } from "bun:test";
import {
  DEFAULT_BUSY_TIMEOUT_MS,
  DEFAULT_DB_PATH,
  DEFAULT_TIMEZONE,
  resolveDatabaseOptions,
  type DatabaseOptions,
} from "../src/config.ts";
import { ValidationError } from "../src/domain/errors.ts";
import { issuesOf, thrownBy } from "./support/domain-fixtures.ts";

const NO_ENV = {};

describe("resolveDatabaseOptions: defaults", () => {
  test("with no options and no environment every default applies; the settings stay unsaid (the database decides)", () => {
    const resolved = resolveDatabaseOptions({}, NO_ENV);
    expect(resolved).toEqual({
      path: "./data/trading.db",
      timezone: undefined,
      synchronous: "NORMAL",
      readonly: false,
      barTimestamp: undefined,
      calendar: undefined,
      initialSettings: {},
      allowSecondsLikeTimestamps: false,
      busyTimeoutMs: 5000,
      actor: "tradelite",
      auditRollupMs: 86_400_000,
    });
    expect("timezone" in resolved && resolved.timezone).toBe(undefined);
    expect(DEFAULT_DB_PATH).toBe("./data/trading.db");
    expect(DEFAULT_TIMEZONE).toBe("UTC");
    expect(DEFAULT_BUSY_TIMEOUT_MS).toBe(5000);
  });

  test("options may be omitted entirely", () => {
    expect(resolveDatabaseOptions(undefined, NO_ENV).path).toBe(DEFAULT_DB_PATH);
  });

  test("TRADELITE_DB in the environment is the default path", () => {
    expect(resolveDatabaseOptions({}, { TRADELITE_DB: "/srv/market.db" }).path).toBe("/srv/market.db");
  });

  test("an explicit path wins over TRADELITE_DB", () => {
    expect(resolveDatabaseOptions({ path: "./other.db" }, { TRADELITE_DB: "/srv/market.db" }).path).toBe("./other.db");
  });

  test("an empty TRADELITE_DB is ignored", () => {
    expect(resolveDatabaseOptions({}, { TRADELITE_DB: "" }).path).toBe(DEFAULT_DB_PATH);
  });

  test("other environment variables are not read", () => {
    expect(resolveDatabaseOptions({}, { TRADELITE_TIMEZONE: "Asia/Shanghai", TZ: "Asia/Shanghai" }).timezone).toBeUndefined();
  });

  test("without an env argument, process.env is read", () => {
    const saved = process.env.TRADELITE_DB;
    process.env.TRADELITE_DB = "/tmp/from-process-env.db";
    try {
      expect(resolveDatabaseOptions({}).path).toBe("/tmp/from-process-env.db");
    } finally {
      if (saved === undefined) delete process.env.TRADELITE_DB;
      else process.env.TRADELITE_DB = saved;
    }
  });

  test("every given option is kept", () => {
    const options: DatabaseOptions = {
      path: ":memory:",
      timezone: "Asia/Shanghai",
      synchronous: "FULL",
      readonly: true,
      barTimestamp: "end",
      calendar: "XSHG",
      initialSettings: { timezone: "Asia/Shanghai" },
      allowSecondsLikeTimestamps: true,
      busyTimeoutMs: 0,
      actor: "risk-engine",
      auditRollupMs: 0,
    };
    expect(resolveDatabaseOptions(options, { TRADELITE_DB: "/srv/market.db" })).toEqual(options as Required<DatabaseOptions>);
  });

  test("busyTimeoutMs may be up to ten minutes", () => {
    expect(resolveDatabaseOptions({ busyTimeoutMs: 600_000 }, NO_ENV).busyTimeoutMs).toBe(600_000);
  });

  test("the caller's options object is not modified", () => {
    const options: DatabaseOptions = { timezone: "Asia/Shanghai" };
    resolveDatabaseOptions(options, { TRADELITE_DB: "/srv/market.db" });
    expect(options).toEqual({ timezone: "Asia/Shanghai" });
  });
});

describe("resolveDatabaseOptions: bad options are refused with a ValidationError naming the field", () => {
  test.each([
    ["an empty path", { path: "" }, "path"],
    ["a numeric path", { path: 42 }, "path"],
    ["an unknown time zone", { timezone: "Mars/Olympus" }, "timezone"],
    ["an empty time zone", { timezone: "" }, "timezone"],
    ["a numeric time zone", { timezone: 8 }, "timezone"],
    ["synchronous OFF", { synchronous: "OFF" }, "synchronous"],
    ["lower-case synchronous", { synchronous: "normal" }, "synchronous"],
    ["a string readonly", { readonly: "true" }, "readonly"],
    ["barTimestamp middle", { barTimestamp: "middle" }, "barTimestamp"],
    ["a negative busy timeout", { busyTimeoutMs: -1 }, "busyTimeoutMs"],
    ["a fractional busy timeout", { busyTimeoutMs: 1.5 }, "busyTimeoutMs"],
    ["a busy timeout over ten minutes", { busyTimeoutMs: 600_001 }, "busyTimeoutMs"],
    ["a string busy timeout", { busyTimeoutMs: "5000" }, "busyTimeoutMs"],
    ["an unknown option (a typo)", { timeZone: "Asia/Shanghai" }, "timeZone"],
    ["a calendar name with a space", { calendar: "X SHG" }, "calendar"],
    ["a numeric calendar", { calendar: 7 }, "calendar"],
    ["an unknown zone in initialSettings", { initialSettings: { timezone: "Mars/Olympus" } }, "initialSettings.timezone"],
    ["an unknown setting in initialSettings", { initialSettings: { tz: "UTC" } }, "initialSettings.tz"],
    ["a string allowSecondsLikeTimestamps", { allowSecondsLikeTimestamps: "yes" }, "allowSecondsLikeTimestamps"],
  ])("%s", (_name, options, field) => {
    const issues = issuesOf(() => resolveDatabaseOptions(options as unknown as DatabaseOptions, NO_ENV));
    expect(issues.map((issue) => issue.field ?? issue.message)).toContainEqual(expect.stringContaining(field));
  });

  test("the field of a bad option is the issue's field", () => {
    expect(issuesOf(() => resolveDatabaseOptions({ busyTimeoutMs: -1 }, NO_ENV))).toEqual([
      { field: "busyTimeoutMs", message: expect.any(String) },
    ]);
    expect(issuesOf(() => resolveDatabaseOptions({ timezone: "Mars/Olympus" }, NO_ENV))).toEqual([
      { field: "timezone", message: expect.stringContaining("Mars/Olympus") },
    ]);
  });

  test("several bad options are reported together", () => {
    const issues = issuesOf(() =>
      resolveDatabaseOptions({ synchronous: "OFF", busyTimeoutMs: -1 } as unknown as DatabaseOptions, NO_ENV),
    );
    expect(issues.map((issue) => issue.field).sort()).toEqual(["busyTimeoutMs", "synchronous"]);
  });

  test.each([
    ["null", null],
    ["a string", "./data/trading.db"],
    ["an array", []],
  ])("options that are %s are refused", (_name, options) => {
    thrownBy(() => resolveDatabaseOptions(options as unknown as DatabaseOptions, NO_ENV), ValidationError);
  });
});
