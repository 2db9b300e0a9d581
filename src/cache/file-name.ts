/**
 * Cache file names: a reversible, path-safe encoding of the symbol, never the raw symbol.
 *
 * Upper-case ASCII letters, digits, `-`, `_` and `.` (not first) stay as they are; every other
 * UTF-8 byte becomes `%XX` with upper-case hex. So `600519.SH` stays `600519.SH.csv`, `BTC/USDT`
 * becomes `BTC%2FUSDT.csv` and `../x` becomes `%2E.%2F%78.csv`: a name never holds a `/` and
 * never starts with a dot, so it is always one entry inside the cache folder. Lower-case letters
 * are encoded too, which keeps two symbols that differ only in case apart on case-insensitive
 * file systems (macOS, Windows).
 */
import { ValidationError } from "../domain/errors.ts";
import { assertSymbol } from "../domain/symbol.ts";

export const CACHE_FILE_EXTENSION = ".csv";
/** Room for the extension and the ".tmp" of a compaction under the usual 255-byte name limit. */
export const MAX_ENCODED_LENGTH = 240;

const HEX = "0123456789ABCDEF";
const WINDOWS_DEVICE = /^(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\.|$)/;

function isLiteral(byte: number, index: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    byte === 0x2d || // -
    byte === 0x5f || // _
    (byte === 0x2e && index > 0) // . but never first: no hidden files, no ".."
  );
}

/** The cache file name of `symbol` (with the .csv extension). Throws a ValidationError if it cannot have one. */
export function cacheFileName(symbol: string): string {
  assertSymbol(symbol);
  let encoded = "";
  const bytes = new TextEncoder().encode(symbol);
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    encoded += isLiteral(byte, i) ? String.fromCharCode(byte) : `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  // Windows reserves these device names whatever the extension (CON and PRN are real tickers):
  // encode the first letter so the name is an ordinary file there too.
  if (WINDOWS_DEVICE.test(encoded)) encoded = `%${encoded.charCodeAt(0).toString(16).toUpperCase()}${encoded.slice(1)}`;
  if (encoded.length > MAX_ENCODED_LENGTH) {
    throw new ValidationError([
      {
        field: "symbol",
        message: `too long for a cache file name once encoded (${encoded.length} bytes, at most ${MAX_ENCODED_LENGTH})`,
      },
    ]);
  }
  return encoded + CACHE_FILE_EXTENSION;
}

/** The symbol a cache file name stands for, or undefined when the name is not one cacheFileName makes. */
export function symbolOfCacheFile(fileName: string): string | undefined {
  if (!fileName.endsWith(CACHE_FILE_EXTENSION)) return undefined;
  const encoded = fileName.slice(0, -CACHE_FILE_EXTENSION.length);
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === "%") {
      const hex = encoded.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(encoded.charCodeAt(i));
    }
  }
  let symbol: string;
  try {
    symbol = new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
  try {
    // Only the canonical spelling decodes: one symbol, one file name.
    return cacheFileName(symbol) === fileName ? symbol : undefined;
  } catch {
    return undefined;
  }
}
