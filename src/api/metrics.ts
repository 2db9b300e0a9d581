/**
 * /v1/metrics/{name}: recovery metrics, recorded and read.
 */
import { z } from "@hono/zod-openapi";
import { MetricSchema } from "../domain/metric.ts";
import type { MetricQuery } from "../domain/store.ts";
import type { Api } from "./context.ts";
import { errorResponses } from "./errors.ts";
import { defined, NameParam, route, TimestampQuery } from "./schemas.ts";

const MetricName = NameParam("name", "session_cache.recovery");
const Query = z.strictObject({ since: TimestampQuery.optional(), until: TimestampQuery.optional() });
const Body = z.strictObject({ value: z.number(), labels: z.record(z.string(), z.string()).optional() });
const Summary = z.object({
  name: z.string(),
  count: z.number().int(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  mean: z.number().nullable(),
  last: z.number().nullable(),
});

export function metricRoutes(app: Api): void {
  app.openapi(
    route({
      method: "get",
      path: "/v1/metrics/{name}",
      summary: "Samples of a metric in a time range",
      request: { params: MetricName, query: Query },
      responses: { 200: { description: "the samples", content: { "application/json": { schema: z.array(MetricSchema) } } }, ...errorResponses() },
    }),
    async (c) => {
      const { name } = c.req.valid("param") as { name: string };
      return c.json(await c.var.store.metrics.query(name, defined(c.req.valid("query")) as MetricQuery), 200);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/v1/metrics/{name}",
      summary: "Record a sample ({ value, labels? })",
      request: { params: MetricName, body: { required: true, content: { "application/json": { schema: Body } } } },
      responses: { 200: { description: "the recorded sample", content: { "application/json": { schema: MetricSchema } } }, ...errorResponses(400, 413, 415) },
    }),
    async (c) => {
      const { name } = c.req.valid("param") as { name: string };
      const { value, labels } = c.req.valid("json");
      return c.json(await c.var.store.metrics.record(name, value, labels), 200);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/metrics/{name}/summary",
      summary: "Count, min, max, mean and last value of a metric",
      request: { params: MetricName },
      responses: { 200: { description: "the summary", content: { "application/json": { schema: Summary } } }, ...errorResponses() },
    }),
    async (c) => {
      const { name } = c.req.valid("param") as { name: string };
      return c.json(await c.var.store.metrics.summary(name), 200);
    },
  );
}
