/**
 * A small file's bytes as text, for the readers that take a whole file at once (adjustment and
 * listing files): in the encoding given, else UTF-8, or GBK when the bytes are not UTF-8 (Chinese
 * Windows exports). Bar files stream and detect their encoding from their head (bar-file.ts).
 */
import { ValidationError } from "../domain/errors.ts";
import type { Encoding } from "./bar-file.ts";

export function decodeText(bytes: Uint8Array, encoding?: Encoding): { text: string; encoding: Encoding } {
  if (encoding !== undefined) {
    try {
      return { text: new TextDecoder(encoding, { fatal: true }).decode(bytes), encoding };
    } catch {
      throw new ValidationError([{ field: "file", message: `the file is not ${encoding.toUpperCase()} text` }]);
    }
  }
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), encoding: "utf-8" };
  } catch {
    try {
      return { text: new TextDecoder("gbk", { fatal: true }).decode(bytes), encoding: "gbk" };
    } catch {
      throw new ValidationError([{ field: "file", message: "the file is neither UTF-8 nor GBK text" }]);
    }
  }
}
