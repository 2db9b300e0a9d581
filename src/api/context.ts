/**
 * The Hono environment every route file shares: the store view for this request (its mutations
 * name the caller in the audit log) and the caller's name.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { CacheService } from "../domain/cache.ts";
import type { Store } from "../domain/store.ts";
import type { ErrorLogger } from "./errors.ts";
import type { Turns } from "./turns.ts";

export interface ApiEnv {
  Variables: {
    store: Store;
    actor: string;
    /** The session cache, when the server has one (its routes answer 501 otherwise). */
    cache: CacheService | null;
    /** Where unexpected errors go (createApp's logError). */
    logError: ErrorLogger;
    /** The server's turns (turns.ts): a route that hands the store a hang-up signal defers it. */
    turns: Turns;
  };
}

export type Api = OpenAPIHono<ApiEnv>;
