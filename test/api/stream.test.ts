/**
 * Streamed answers (src/api/stream.ts): a stream whose store fails after the first byte is cut,
 * never ended as if complete, and the error reaches the configured logger.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createApp } from "../../src/api/app.ts";
import type { Store } from "../../src/mod.ts";
import { closeApiFixtures, minuteBars, openApiFixture } from "../support/api.ts";

afterAll(closeApiFixtures);
const T0 = Date.UTC(2024, 0, 2, 1, 31);

describe("a stream that fails part-way", () => {
  test("is cut (never ended as if complete), and the error reaches the configured logger", async () => {
    const f = await openApiFixture();
    const bars = minuteBars(T0, 5);
    await f.store.insertBars("AAA", bars);
    const logged: unknown[] = [];
    // A store whose iteration yields three bars, then fails: the answer has started by then.
    const failing: Store = {
      ...f.store,
      withActor: () => failing,
      async *iterateBars(symbol, query) {
        let n = 0;
        for await (const bar of f.store.iterateBars(symbol, query)) {
          if (++n > 3) throw new Error("disk vanished");
          yield bar;
        }
      },
    };
    const app = createApp(failing, { logError: (error) => logged.push(error) });
    const answer = await app.request("/v1/bars/AAA?format=csv");
    expect(answer.status).toBe(200);
    await expect(answer.text()).rejects.toBeDefined();
    expect(logged.length).toBe(1);
    expect((logged[0] as Error).message).toBe("disk vanished");
  });
});
