import { describe, expect, test } from "bun:test";
import { ValidationError } from "../../src/domain/errors.ts";
import { assertSymbol, isSymbol, MAX_SYMBOL_LENGTH, symbolProblem } from "../../src/domain/symbol.ts";
import { pick, randomInt, seededRandom, thrownBy } from "../support/domain-fixtures.ts";

const ACCEPTED = [
  "600519",
  "600519.SH",
  "000001.SZ",
  "BTC/USDT",
  "ES=F",
  "^GSPC",
  "../x",
  "a",
  "BRK.B",
  "贵州茅台",
  "🚀",
  "x".repeat(64),
];

const REJECTED: [string, string][] = [
  ["empty", ""],
  ["a space", " "],
  ["an inner space", "a b"],
  ["a leading space", " 600519"],
  ["a trailing space", "600519 "],
  ["a tab", "a\tb"],
  ["a newline", "600519\n"],
  ["a carriage return", "a\rb"],
  ["NUL", "\u0000"],
  ["an inner NUL", "600519\u0000.SH"],
  ["DEL", "a\u007fb"],
  ["a C1 control (NEL)", "a\u0085b"],
  ["a zero-width space", "\u200b"],
  ["an inner zero-width space", "600\u200b519"],
  ["a byte-order mark", "\ufeff600519"],
  ["a right-to-left mark", "a\u200fb"],
  ["a no-break space", "a\u00a0b"],
  ["an ideographic space", "a\u3000b"],
  ["a line separator", "a\u2028b"],
  ["a lone surrogate", "a\ud800b"],
  ["65 characters", "x".repeat(65)],
];

describe("the symbol rule", () => {
  test.each(ACCEPTED)("%p is a symbol", (symbol) => {
    expect(symbolProblem(symbol)).toBeUndefined();
    expect(isSymbol(symbol)).toBe(true);
  });

  test.each(REJECTED)("%s is not a symbol", (_name, value) => {
    expect(symbolProblem(value)).toBeString();
    expect(isSymbol(value)).toBe(false);
  });

  test("the limit is 64 characters", () => {
    expect(MAX_SYMBOL_LENGTH).toBe(64);
    expect(isSymbol("9".repeat(64))).toBe(true);
    expect(isSymbol("9".repeat(65))).toBe(false);
  });

  test("length counts code points, not UTF-16 units: 64 emoji are accepted, 65 are not", () => {
    expect("😀".repeat(64).length).toBe(128);
    expect(isSymbol("😀".repeat(64))).toBe(true);
    expect(isSymbol("😀".repeat(65))).toBe(false);
    expect(isSymbol("茅".repeat(64))).toBe(true);
  });

  test("an overlong symbol is told the limit", () => {
    expect(symbolProblem("x".repeat(65))).toContain("64");
  });

  test("an empty symbol is told it must not be empty", () => {
    expect(symbolProblem("")).toContain("empty");
  });

  test.each([
    ["a number", 600519],
    ["null", null],
    ["undefined", undefined],
    ["an object", { symbol: "600519" }],
    ["an array", ["600519"]],
    ["a boolean", true],
    ["a boxed string", Object("600519")],
    ["a bigint", 600519n],
  ])("%s is not a symbol: it must be a string", (_name, value) => {
    expect(symbolProblem(value)).toContain("expected a string");
    expect(isSymbol(value)).toBe(false);
  });

  test("random printable symbols of 1 to 64 characters are accepted; any whitespace or control character inserted is refused", () => {
    const random = seededRandom(600519);
    const printable = [..."ABCXYZabcxyz0123456789./=^-_:#@$%&*+!?~|()[]{}<>'\"`,;\\", "é", "ß", "茅", "台", "€", "😀", "𝔸"];
    const forbidden = [" ", "\t", "\n", "\r", "\u000b", "\u000c", "\u0000", "\u001f", "\u007f", "\u0085", "\u00a0", "\u1680", "\u2000", "\u200b", "\u200d", "\u2028", "\u2029", "\u202f", "\u3000", "\ufeff", "\udc00"];
    for (let i = 0; i < 1000; i++) {
      const chars = Array.from({ length: randomInt(random, 1, 64) }, () => pick(random, printable));
      const symbol = chars.join("");
      if (!isSymbol(symbol)) throw new Error(`${JSON.stringify(symbol)} was refused`);
      // Keep the spoiled symbol within 64 characters so only the inserted character can be the fault.
      const spoiledChars = chars.slice(0, MAX_SYMBOL_LENGTH - 1);
      spoiledChars.splice(randomInt(random, 0, spoiledChars.length), 0, pick(random, forbidden));
      const spoiled = spoiledChars.join("");
      if (isSymbol(spoiled)) throw new Error(`${JSON.stringify(spoiled)} was accepted`);
    }
  });
});

describe("assertSymbol", () => {
  test.each(ACCEPTED)("returns %p unchanged", (symbol) => {
    expect(assertSymbol(symbol)).toBe(symbol);
  });

  test.each(REJECTED)("throws a ValidationError for %s, with one issue on field symbol", (_name, value) => {
    const error = thrownBy(() => assertSymbol(value), ValidationError);
    expect(error.code).toBe("VALIDATION");
    expect(error.issues).toEqual([{ field: "symbol", message: symbolProblem(value)! }]);
    expect(error.message).toContain("symbol");
  });

  test("throws a ValidationError on field symbol for a non-string", () => {
    const error = thrownBy(() => assertSymbol(600519), ValidationError);
    expect(error.issues[0]!.field).toBe("symbol");
    expect(error.issues[0]!.message).toContain("number");
  });
});

describe("symbols are in Unicode NFC form", () => {
  test("a decomposed name is refused, its composed twin accepted, so one name is one key", () => {
    const composed = "Soci\u00e9t\u00e9";
    const decomposed = "Socie\u0301te\u0301";
    expect(symbolProblem(composed)).toBeUndefined();
    expect(symbolProblem(decomposed)).toBe("must be in Unicode NFC (composed) form");
    expect(symbolProblem("\u8d35\u5dde\u8305\u53f0")).toBeUndefined();
  });
});
