/**
 * A streamed text body as its lines, read as the bytes arrive: an NDJSON export of millions of
 * bars is never held whole.
 */
export async function* linesOf(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let carry = "";
  for await (const chunk of body) {
    const text = carry + decoder.decode(chunk, { stream: true });
    let at = 0;
    for (let newline = text.indexOf("\n"); newline >= 0; newline = text.indexOf("\n", at)) {
      yield text.slice(at, newline);
      at = newline + 1;
    }
    carry = text.slice(at);
  }
  carry += decoder.decode();
  if (carry !== "") yield carry;
}
