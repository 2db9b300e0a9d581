/**
 * The symbol rule, defined once. A symbol is 1 to 64 printable characters with no whitespace,
 * no control or format characters, in Unicode NFC form. `600519`, `600519.SH`, `BTC/USDT`, `ES=F`, `^GSPC` are fine;
 * so is `../x`: a symbol is a database key, and no file path is ever built from it (the session
 * cache encodes symbols into file names).
 */
import { ValidationError } from "./errors.ts";

export const MAX_SYMBOL_LENGTH = 64;

// \p{C}: control, format (zero-width), surrogate, private-use and unassigned code points;
// \p{Z} and \s: every kind of space. The `u` flag makes {1,64} count code points.
const SYMBOL_PATTERN = /^[^\p{C}\p{Z}\s]{1,64}$/u;
// Nearly every real symbol: printable ASCII, no space. Checked first because it is cheaper.
const PRINTABLE_ASCII = /^[\x21-\x7e]{1,64}$/;

/** Why `value` is not a symbol, or undefined when it is one. */
export function symbolProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return `expected a string, got ${typeof value}`;
  if (value.length === 0) return "must not be empty";
  if (PRINTABLE_ASCII.test(value)) return undefined;
  if (SYMBOL_PATTERN.test(value)) {
    // "Société" typed on two keyboards can be two different code point sequences; requiring
    // the composed (NFC) form keeps one key per name instead of quietly storing two.
    return value.normalize("NFC") === value ? undefined : "must be in Unicode NFC (composed) form";
  }
  if ([...value].length > MAX_SYMBOL_LENGTH) return `must be at most ${MAX_SYMBOL_LENGTH} characters`;
  return "must contain only printable characters, without whitespace or control characters";
}

export function isSymbol(value: unknown): value is string {
  return symbolProblem(value) === undefined;
}

/** Returns the symbol unchanged, or throws a ValidationError naming the field `symbol`. */
export function assertSymbol(value: unknown): string {
  const problem = symbolProblem(value);
  if (problem !== undefined) {
    throw new ValidationError([{ field: "symbol", message: problem }]);
  }
  return value as string;
}
