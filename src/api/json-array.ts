/**
 * The JSON array uploads (bars, quotes, the cache's bars), read as they arrive: the body is
 * decoded strictly as UTF-8 in pieces, cut at the array's top-level commas, and each slice of a
 * few thousand elements is parsed and validated with the route's own zod element schema before
 * the next is read. Between slices the event loop turns, so no other request waits behind a big
 * body for more than a couple of milliseconds; past the first problem nothing is kept but the
 * first MAX_REPORTED_ISSUES issues and a count.
 *
 * Measured on 8 million zeros (an 8 MB body): c.req.json() then zod's array validator took
 * 3.3 GB and held the server for 21 s, building an issue object for every element.
 */
import type { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { Issue } from "../domain/errors.ts";
import { pauses } from "../domain/pause.ts";
import type { Api } from "./context.ts";
import { ApiError, invalidInput, issuesOf, MAX_REPORTED_ISSUES } from "./errors.ts";

/** Text handed to JSON.parse at once (about 0.5 ms of parsing and validation here). */
const SLICE_CHARS = 64 * 1024;
/** Bytes decoded at once (about 0.5 ms). */
const DECODE_BYTES = 1024 * 1024;
/** A body that is not an array is parsed whole (to tell 400 from 422) only up to this size. */
const NOT_ARRAY_PARSE_CHARS = 1024 * 1024;

const OPEN_BRACKET = 0x5b; // [
const CLOSE_BRACKET = 0x5d; // ]
const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACE = 0x7d; // }
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const COMMA = 0x2c; // ,

/** Whether `text` is only JSON whitespace (space, tab, line feed, carriage return). */
function blank(text: string): boolean {
  return /^[ \t\n\r]*$/.test(text);
}

const malformed = (message: string, details: unknown = null) => new ApiError(400, message, details, "MALFORMED");

/**
 * Cuts a JSON array's text into slices of whole elements as pieces of it arrive. It tracks only
 * what it must to find the top-level commas (nesting depth, strings and their escapes); whether
 * each slice is JSON is left to JSON.parse.
 */
class ArraySlicer {
  /** Text received and not yet handed out. */
  #text = "";
  /** Where scanning resumes in #text. */
  #scan = 0;
  /** Where the next slice starts in #text. */
  #start = 0;
  /** The last top-level comma scanned since #start, or -1. */
  #lastComma = -1;
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** Whether #start is just after a top-level comma (so a `]` there closes a trailing comma). */
  #afterComma = false;
  state: "before" | "inside" | "closed" | "not-array" = "before";

  push(piece: string): void {
    if (this.state === "closed") {
      if (!blank(piece)) throw malformed("the body has text after its JSON array");
      return;
    }
    this.#text = this.#text.slice(this.#start) + piece;
    this.#scan -= this.#start;
    if (this.#lastComma >= 0) this.#lastComma -= this.#start;
    this.#start = 0;
  }

  /**
   * The next slice of whole elements (their text with the commas between them, no brackets), of
   * about `maxChars` at most; null when the text received so far holds no complete one.
   */
  next(maxChars: number): string | null {
    const text = this.#text;
    if (this.state === "before") {
      const at = text.search(/[^ \t\n\r]/);
      if (at < 0) return null;
      if (text.charCodeAt(at) !== OPEN_BRACKET) {
        this.state = "not-array";
        return null;
      }
      this.state = "inside";
      this.#depth = 1;
      this.#start = this.#scan = at + 1;
    }
    if (this.state !== "inside") return null;
    for (let i = this.#scan; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (ch === BACKSLASH) this.#escaped = true;
        else if (ch === QUOTE) this.#inString = false;
      } else if (ch === QUOTE) {
        this.#inString = true;
      } else if (ch === OPEN_BRACKET || ch === OPEN_BRACE) {
        this.#depth++;
      } else if (ch === CLOSE_BRACKET || ch === CLOSE_BRACE) {
        if (--this.#depth === 0) return this.#close(i);
      } else if (ch === COMMA && this.#depth === 1) {
        this.#lastComma = i;
        if (i - this.#start >= maxChars) {
          this.#scan = i + 1;
          return this.#cut();
        }
      }
    }
    this.#scan = text.length;
    return this.#lastComma >= 0 ? this.#cut() : null;
  }

  /** The elements from #start to the last comma scanned. */
  #cut(): string {
    const slice = this.#text.slice(this.#start, this.#lastComma);
    if (blank(slice)) throw malformed("the body is not valid JSON (an element missing between commas)");
    this.#start = this.#lastComma + 1;
    this.#lastComma = -1;
    this.#afterComma = true;
    return slice;
  }

  /** The array closes at `end`: its last elements, or null when there are none. */
  #close(end: number): string | null {
    const text = this.#text;
    if (text.charCodeAt(end) !== CLOSE_BRACKET) throw malformed("the body is not valid JSON (a `}` closes its array)");
    const slice = text.slice(this.#start, end);
    const rest = text.slice(end + 1);
    this.state = "closed";
    this.#text = "";
    if (!blank(rest)) throw malformed("the body has text after its JSON array");
    if (!blank(slice)) return slice;
    if (this.#afterComma) throw malformed("the body is not valid JSON (a comma before its closing `]`)");
    return null;
  }

  /** Text held while the body is not an array (a bounded beginning of it). */
  get held(): string {
    return this.#text;
  }
}

/**
 * A request body as text, piece by piece, decoded strictly: bytes that are not UTF-8 are a 400
 * naming the body (the runtime's text() would put U+FFFD in their place), as is a body that
 * cannot be read to its end; the size limit's 413 passes through.
 */
export async function* utf8Pieces(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const reader = body.getReader();
  const decode = (bytes?: Uint8Array) => {
    try {
      return bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
    } catch {
      throw malformed("the request body is not valid UTF-8", { where: "body" });
    }
  };
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (error instanceof ApiError) throw error; // the size limit's 413
        throw malformed("the request body could not be read to its end");
      }
      if (chunk.done) break;
      // A body that arrived whole comes as one chunk; decoding 64 MiB at once held the thread
      // for 300 ms here.
      for (let at = 0; at < chunk.value.length; at += DECODE_BYTES) yield decode(chunk.value.subarray(at, at + DECODE_BYTES));
    }
    yield decode();
  } finally {
    reader.releaseLock();
  }
}

/**
 * Reads a JSON array body whose every element must pass `element`, slice by slice. Valid: the
 * elements, in order. Invalid: a 422 listing the first MAX_REPORTED_ISSUES issues (rows
 * counted from 0 across the whole array) with the total found in the whole body; a body that is
 * not JSON, not UTF-8 or not an array is a 400 (422 for a small body that is JSON but not an
 * array, as the route's validator said before).
 */
export async function readJsonArray<T>(c: Context, element: z.ZodType<T>): Promise<T[]> {
  const body = c.req.raw.body;
  if (!body) throw malformed("empty body; expected a JSON array");
  const slicer = new ArraySlicer();
  const rows: T[] = [];
  const issues: Issue[] = [];
  let elements = 0;
  let total = 0;
  const pause = pauses();

  const check = (slice: string) => {
    let values: unknown[];
    try {
      values = JSON.parse(`[${slice}]`) as unknown[];
    } catch {
      throw malformed(`the body is not valid JSON (after element ${elements})`);
    }
    const first = elements;
    elements += values.length;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (issues.length >= MAX_REPORTED_ISSUES) {
        // Past the cap only the count matters: an element that is not an object is one issue
        // (what the object schema says of it), counted without building zod's issue for it.
        if (typeof value !== "object" || value === null || Array.isArray(value)) total++;
        else total += element.safeParse(value).error?.issues.length ?? 0;
        continue;
      }
      const result = element.safeParse(value);
      if (result.success) {
        if (total === 0) rows.push(result.data);
        continue;
      }
      total += result.error.issues.length;
      rows.length = 0; // nothing will be written: what passed is not kept
      for (const issue of issuesOf(result.error, "element")) {
        if (issues.length < MAX_REPORTED_ISSUES) issues.push({ row: first + i, ...issue });
      }
    }
  };

  for await (const piece of utf8Pieces(body)) {
    if (slicer.state === "not-array") {
      // Kept only to tell JSON from not (400 or 422), and only up to a bound.
      if (slicer.held.length < NOT_ARRAY_PARSE_CHARS) slicer.push(piece);
      continue;
    }
    slicer.push(piece);
    for (let slice = slicer.next(SLICE_CHARS); slice !== null; slice = slicer.next(SLICE_CHARS)) {
      check(slice);
      await pause();
    }
  }
  if (slicer.state === "not-array") throw notAnArray(slicer.held);
  if (slicer.state === "before") throw malformed("empty body; expected a JSON array");
  if (slicer.state === "inside") throw malformed("the body ends inside its JSON array");
  if (total > 0) {
    throw invalidInput(issues, total, "json");
  }
  return rows;
}

/** A body that does not start with `[`: 422 when it is JSON (an object, say), else 400. */
function notAnArray(head: string): ApiError {
  if (head.length < NOT_ARRAY_PARSE_CHARS) {
    try {
      JSON.parse(head);
    } catch {
      return malformed("the body is not valid JSON");
    }
  }
  return new ApiError(422, "invalid body: expected a JSON array", [{ message: "expected a JSON array" }], "VALIDATION");
}

/**
 * A JSON array body in the OpenAPI document, its element a named component: a plain schema
 * object, so that zod-openapi adds no validator of its own (which would parse the whole body
 * at once) and the route reads it with readJsonArray and the same element schema.
 */
export function jsonArrayContent(app: Api, name: string, element: z.ZodType): { schema: { type: "array"; items: { $ref: string } } } {
  app.openAPIRegistry.register(name, element);
  return { schema: { type: "array", items: { $ref: `#/components/schemas/${name}` } } };
}
