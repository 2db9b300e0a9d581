/**
 * /v1/preferences: user preferences, key -> JSON value.
 */
import { z } from "@hono/zod-openapi";
import { PreferenceSchema as DomainPreferenceSchema } from "../domain/preference.ts";
import type { Api } from "./context.ts";
import { ApiError, errorResponses } from "./errors.ts";
import { JsonValueSchema, NameParam, route } from "./schemas.ts";

const PreferenceSchema = DomainPreferenceSchema.extend({ value: JsonValueSchema }).openapi("Preference");

const KeyParam = NameParam("key", "chart.theme");
const Body = z.strictObject({ value: JsonValueSchema });

export function preferenceRoutes(app: Api): void {
  app.openapi(
    route({
      method: "get",
      path: "/v1/preferences",
      summary: "Every preference",
      responses: { 200: { description: "the preferences", content: { "application/json": { schema: z.array(PreferenceSchema) } } }, ...errorResponses() },
    }),
    async (c) => c.json(await c.var.store.prefs.all(), 200),
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/preferences/{key}",
      summary: "One preference",
      request: { params: KeyParam },
      responses: { 200: { description: "the preference", content: { "application/json": { schema: PreferenceSchema } } }, ...errorResponses(404) },
    }),
    async (c) => {
      const { key } = c.req.valid("param") as { key: string };
      const preference = await c.var.store.prefs.get(key);
      if (!preference) throw new ApiError(404, `no preference ${key}`);
      return c.json(preference, 200);
    },
  );

  app.openapi(
    route({
      method: "put",
      path: "/v1/preferences/{key}",
      summary: "Set a preference to a JSON value ({ value })",
      request: { params: KeyParam, body: { required: true, content: { "application/json": { schema: Body } } } },
      responses: { 200: { description: "the stored preference", content: { "application/json": { schema: PreferenceSchema } } }, ...errorResponses(400, 413, 415) },
    }),
    async (c) => {
      const { key } = c.req.valid("param") as { key: string };
      return c.json(await c.var.store.prefs.set(key, c.req.valid("json").value), 200);
    },
  );

  app.openapi(
    route({
      method: "delete",
      path: "/v1/preferences/{key}",
      summary: "Remove a preference",
      request: { params: KeyParam },
      responses: { 200: { description: "removed", content: { "application/json": { schema: z.object({ deleted: z.literal(true) }) } } }, ...errorResponses(404) },
    }),
    async (c) => {
      const { key } = c.req.valid("param") as { key: string };
      if (!(await c.var.store.prefs.delete(key))) throw new ApiError(404, `no preference ${key}`);
      return c.json({ deleted: true as const }, 200);
    },
  );
}
