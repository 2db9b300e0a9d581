import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ValidationError } from "../../src/domain/errors.ts";
import { EXCHANGE_OF_PREFIX, normalizeSymbol, type Exchange } from "../../src/domain/instrument-symbol.ts";

const MIC: Record<Exchange, string> = { SH: "XSHG", SZ: "XSHE", BJ: "BJ" };

function refusal(input: string, options?: Parameters<typeof normalizeSymbol>[1]): ValidationError {
  try {
    normalizeSymbol(input, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error(`${input} was accepted`);
}

/** Every spelling the vendors write of one code on one exchange. */
function spellings(code: string, exchange: Exchange, bare: boolean): string[] {
  const lower = exchange.toLowerCase();
  const all = [`${code}.${exchange}`, `${code}.${lower}`, `${lower}${code}`, `${exchange}${code}`, `${lower}.${code}`, `${exchange}.${code}`, `${code}.${MIC[exchange]}`];
  if (exchange !== "BJ") all.push(`${code}.${MIC[exchange].toLowerCase()}`);
  if (bare) all.push(code);
  return all;
}

describe("normalizeSymbol", () => {
  test("the issue's spellings of Moutai are all 600519.SH", () => {
    for (const input of ["600519", "sh600519", "SH600519", "sh.600519", "600519.XSHG", "600519.sh", "600519.SH"]) {
      expect(normalizeSymbol(input)).toBe("600519.SH");
    }
  });

  test("SZ and BJ, by suffix, prefix and code", () => {
    expect(normalizeSymbol("000002.XSHE")).toBe("000002.SZ");
    expect(normalizeSymbol("sz300750")).toBe("300750.SZ");
    expect(normalizeSymbol("300750")).toBe("300750.SZ");
    expect(normalizeSymbol("159915")).toBe("159915.SZ");
    expect(normalizeSymbol("510300")).toBe("510300.SH");
    expect(normalizeSymbol("688981")).toBe("688981.SH");
    expect(normalizeSymbol("430047")).toBe("430047.BJ");
    expect(normalizeSymbol("830799")).toBe("830799.BJ");
    expect(normalizeSymbol("920002")).toBe("920002.BJ");
    expect(normalizeSymbol("bj430047")).toBe("430047.BJ");
    expect(normalizeSymbol("430047.bj")).toBe("430047.BJ");
    expect(normalizeSymbol("399001")).toBe("399001.SZ");
  });

  test("a bare 000 code is refused as ambiguous, naming both readings and how to choose", () => {
    const error = refusal("000001");
    expect(error.issues[0]!.field).toBe("symbol");
    expect(error.issues[0]!.message).toContain("ambiguous");
    expect(error.issues[0]!.message).toContain("000001.SZ");
    expect(error.issues[0]!.message).toContain("000001.SH");
    expect(error.issues[0]!.message).toContain("index");
    expect(normalizeSymbol("000001", { index: false })).toBe("000001.SZ");
    expect(normalizeSymbol("000001", { index: true })).toBe("000001.SH");
    // With the exchange written out, both are fine.
    expect(normalizeSymbol("sh000001")).toBe("000001.SH");
    expect(normalizeSymbol("000001.XSHE")).toBe("000001.SZ");
  });

  test("a code on the wrong exchange, an unknown exchange, an unknown bare prefix, or not a code: refused with the reason", () => {
    expect(refusal("600519.SZ").issues[0]!.message).toContain("600519 is a code of SH, not SZ");
    expect(refusal("000001.BJ").issues[0]!.message).toContain("not BJ");
    expect(refusal("600519.HK").issues[0]!.message).toContain("unknown exchange");
    expect(refusal("700000").issues[0]!.message).toContain("give the exchange");
    for (const bad of ["", "60051", "6005199", "600519.", ".SH", "BTC/USDT", "600519 .SH", " 600519", "sh_600519", "６００５１９"]) {
      expect(refusal(bad).issues[0]!.message).toContain("expected an A-share code");
    }
    const row = refusal("x", { row: 3, field: "ts_code" }).issues[0]!;
    expect([row.row, row.field]).toEqual([3, "ts_code"]);
    // A prefix the table leaves out is taken as written when the exchange is given (a bond).
    expect(normalizeSymbol("113050.SH")).toBe("113050.SH");
  });

  test("property: every spelling of a code normalizes to one symbol, and normalizing is idempotent", () => {
    const prefixes = Object.entries(EXCHANGE_OF_PREFIX) as [string, Exchange][];
    const allocated = fc
      .tuple(fc.constantFrom(...prefixes), fc.integer({ min: 0, max: 999_999 }))
      .map(([[prefix, exchange], n]) => ({ code: (prefix + String(n).padStart(6, "0")).slice(0, 6), exchange, bare: true }));
    const index = fc.integer({ min: 0, max: 999 }).map((n) => ({ code: `000${String(n).padStart(3, "0")}`, exchange: "SH" as Exchange, bare: false }));
    fc.assert(
      fc.property(fc.oneof(allocated, index), ({ code, exchange, bare }) => {
        const results = new Set(spellings(code, exchange, bare).map((input) => normalizeSymbol(input)));
        expect([...results]).toEqual([`${code}.${exchange}`]);
        expect(normalizeSymbol(`${code}.${exchange}`)).toBe(`${code}.${exchange}`);
      }),
      { seed: 19, numRuns: 500 },
    );
  });

  test("property: whatever it accepts, it gives a six-digit code and SH, SZ or BJ, and that normalizes to itself", () => {
    const any = fc.oneof(fc.string({ maxLength: 12 }), fc.stringMatching(/^(?:[sSzZbBhHjJ]{2}\.?)?\d{6}(?:\.[a-zA-Z]{2,4})?$/));
    fc.assert(
      fc.property(any, fc.option(fc.boolean(), { nil: undefined }), (input, index) => {
        let out: string;
        try {
          out = normalizeSymbol(input, { index });
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
          return;
        }
        expect(out).toMatch(/^\d{6}\.(SH|SZ|BJ)$/);
        expect(normalizeSymbol(out)).toBe(out);
      }),
      { seed: 5, numRuns: 2000 },
    );
  });
});
