/**
 * Cutting CSV text that arrives in pieces into complete records, for the readers that parse a
 * stream with papaparse piece by piece (the API's CSV upload, the importer).
 */
import { ValidationError } from "./errors.ts";

/** The longest CSV record accepted (a bar's line is under 200 characters). */
export const MAX_CSV_RECORD_CHARS = 1024 * 1024;

/** A record longer than MAX_CSV_RECORD_CHARS: an unclosed quote, or not CSV at all. */
export class CsvRecordTooLongError extends ValidationError {
  constructor() {
    super([{ message: `a CSV record runs past ${MAX_CSV_RECORD_CHARS} characters without ending (an unclosed quote, or not CSV)` }]);
  }
}

/**
 * Cuts arriving text into complete rows: after the last newline outside quotes. A quoted field
 * may hold a newline, so quotes are counted (a doubled "" inside a field counts twice, keeping
 * the parity right). Every character is looked at once, however the text arrives: the scan
 * position and the quote state carry over between pieces. Text that runs past
 * MAX_CSV_RECORD_CHARS without a row end (one enormous line, or a stray quote that swallows the
 * rest) is refused (CsvRecordTooLongError) rather than buffered and rescanned without end.
 */
export class RowSplitter {
  #text = "";
  #scanned = 0;
  #quoted = false;

  /** Adds text; returns the complete rows now available (possibly ""). */
  push(piece: string): string {
    const from = this.#text.length;
    this.#text += piece;
    let end = -1;
    if (!this.#quoted && piece.indexOf('"') < 0) {
      const newline = piece.lastIndexOf("\n");
      if (newline >= 0) end = from + newline + 1;
    } else {
      let quoted = this.#quoted;
      const text = this.#text;
      for (let i = this.#scanned; i < text.length; i++) {
        const code = text.charCodeAt(i);
        if (code === 34) quoted = !quoted;
        else if (code === 10 && !quoted) end = i + 1;
      }
      this.#quoted = quoted;
    }
    this.#scanned = this.#text.length;
    if (end < 0) {
      if (this.#text.length > MAX_CSV_RECORD_CHARS) throw new CsvRecordTooLongError();
      return "";
    }
    const rows = this.#text.slice(0, end);
    this.#text = this.#text.slice(end);
    this.#scanned = this.#text.length;
    return rows;
  }

  /** What is left after the last row end (a final row without a newline). */
  rest(): string {
    const rest = this.#text;
    this.#text = "";
    this.#scanned = 0;
    return rest;
  }
}

/** How long a stream reader works before letting other requests run. */
const YIELD_EVERY_MS = 1;

/**
 * A stream reader's pause: resolves at once, or after the event loop has turned when the reader
 * has worked YIELD_EVERY_MS since its last pause. A body already buffered is handed over in
 * chunks whose reads resolve at once: reading them back to back would hold every other request.
 */
export function pauses(): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last <= YIELD_EVERY_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    last = performance.now();
  };
}
