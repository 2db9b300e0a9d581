/**
 * Readers that parse a stream on the server's thread (the API's uploads, the importer) pause
 * here between pieces, so that other requests are answered meanwhile.
 */

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
