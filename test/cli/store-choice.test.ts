/**
 * storeChoice (scripts/cli/shared.ts): which store a command opens, from its options and the
 * environment, the same on every command. The commands' tests run it in the real process; this
 * table covers every combination of an option and a variable.
 */
import { expect, test } from "bun:test";
import { storeChoice, UsageError, type StoreChoice } from "../../scripts/cli/shared.ts";

const URL_A = "postgres://postgres@127.0.0.1:5432/a";
const URL_B = "postgres://postgres@127.0.0.1:5432/b";

test("options win over the environment; TRADELITE_BACKEND applies unless the option given names the other kind of store", () => {
  const cases: [Record<string, string>, Record<string, string>, StoreChoice][] = [
    [{}, {}, { backend: "sqlite", path: "./data/trading.db" }],
    [{}, { TRADELITE_DB: "/x.db" }, { backend: "sqlite", path: "/x.db" }],
    [{ db: "/y.db" }, { TRADELITE_DB: "/x.db" }, { backend: "sqlite", path: "/y.db" }],
    [{}, { TRADELITE_BACKEND: "postgres", TRADELITE_DATABASE_URL: URL_A }, { backend: "postgres", url: URL_A }],
    [{ "database-url": URL_B }, { TRADELITE_DATABASE_URL: URL_A }, { backend: "postgres", url: URL_B }],
    [{ db: "/y.db" }, { TRADELITE_BACKEND: "postgres", TRADELITE_DATABASE_URL: URL_A }, { backend: "sqlite", path: "/y.db" }],
    [{ db: "/y.db" }, { TRADELITE_BACKEND: "sqlite-worker" }, { backend: "sqlite-worker", path: "/y.db" }],
    [{ "database-url": URL_B }, { TRADELITE_BACKEND: "sqlite" }, { backend: "postgres", url: URL_B }],
    [{ backend: "sqlite-worker" }, { TRADELITE_BACKEND: "postgres" }, { backend: "sqlite-worker", path: "./data/trading.db" }],
    [{ backend: "postgres" }, { DATABASE_URL: URL_A }, { backend: "postgres", url: URL_A }],
  ];
  for (const [values, env, expected] of cases) expect({ values, env, choice: storeChoice(values, "sqlite", env) }).toEqual({ values, env, choice: expected });
  expect(storeChoice({}, "sqlite-worker", {})).toEqual({ backend: "sqlite-worker", path: "./data/trading.db" });
});

test("contradictions and unknown backends are usage errors naming what to change", () => {
  const refusals: [Record<string, string>, Record<string, string>, string][] = [
    [{ db: "/y.db", "database-url": URL_A }, {}, "give one"],
    [{ backend: "postgres", db: "/y.db" }, { TRADELITE_DATABASE_URL: URL_A }, "PostgreSQL takes --database-url"],
    [{ backend: "sqlite", "database-url": URL_A }, {}, "the sqlite backend takes --db"],
    [{ backend: "mysql" }, {}, '--backend is sqlite, sqlite-worker, postgres, got "mysql"'],
    [{}, { TRADELITE_BACKEND: "mysql" }, 'TRADELITE_BACKEND is sqlite, sqlite-worker, postgres, got "mysql"'],
    [{ backend: "postgres" }, {}, "no PostgreSQL URL"],
    [{ "database-url": "mysql://x" }, {}, "expected a postgres:// URL"],
  ];
  for (const [values, env, message] of refusals) {
    expect(() => storeChoice(values, "sqlite", env)).toThrow(UsageError);
    expect(() => storeChoice(values, "sqlite", env)).toThrow(message);
  }
});
