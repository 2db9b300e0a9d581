/**
 * /v1/artifacts: model-artifact metadata. Over HTTP the caller states the file's sha256 and size
 * and the server records them without touching the file (register's readFile: false): a request
 * can neither make the server read a file nor learn anything about one. The path must still be
 * relative without `..`, so what is recorded cannot point the server's own tools elsewhere.
 */
import { z } from "@hono/zod-openapi";
import { ArtifactSchema as DomainArtifactSchema, type ArtifactInput } from "../domain/artifact.ts";
import type { Api } from "./context.ts";
import { ApiError, errorResponses } from "./errors.ts";
import { JsonValueSchema, NameParam, route } from "./schemas.ts";

const ArtifactSchema = DomainArtifactSchema.extend({
  params: z.record(z.string(), JsonValueSchema),
  metrics: z.record(z.string(), JsonValueSchema),
}).openapi("Artifact");

const RelativePath = z
  .string()
  .min(1)
  .max(1024)
  .refine((path) => !path.includes("\0"), "must not contain NUL")
  .refine((path) => !/^([/\\]|[A-Za-z]:)/.test(path), "must be relative to the server's folder")
  .refine((path) => !path.split(/[/\\]/).includes(".."), "must not contain ..");

const ArtifactBody = z.strictObject({
  name: z.string().min(1).max(128),
  version: z.string().min(1).max(128),
  path: RelativePath,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "lowercase hex SHA-256"),
  size: z.number().int().nonnegative(),
  params: z.record(z.string(), JsonValueSchema).optional(),
  metrics: z.record(z.string(), JsonValueSchema).optional(),
  tags: z.array(z.string()).optional(),
});

const ListQuery = z.strictObject({ name: z.string().min(1).max(128).optional(), tag: z.string().min(1).max(128).optional() });

export function artifactRoutes(app: Api): void {
  app.openapi(
    route({
      method: "get",
      path: "/v1/artifacts",
      summary: "Registered artifacts, optionally by name or tag",
      request: { query: ListQuery },
      responses: { 200: { description: "the artifacts", content: { "application/json": { schema: z.array(ArtifactSchema) } } }, ...errorResponses() },
    }),
    async (c) => {
      const { name, tag } = c.req.valid("query");
      return c.json(await c.var.store.artifacts.list({ ...(name ? { name } : {}), ...(tag ? { tag } : {}) }), 200);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/v1/artifacts",
      summary: "Register an artifact version (the same hash again is a no-op; another hash is a 409)",
      request: { body: { required: true, content: { "application/json": { schema: ArtifactBody } } } },
      responses: {
        200: { description: "the registered artifact", content: { "application/json": { schema: ArtifactSchema } } },
        ...errorResponses(400, 409, 413, 415),
      },
    }),
    async (c) => c.json(await c.var.store.artifacts.register(c.req.valid("json") as ArtifactInput, { readFile: false }), 200),
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/artifacts/{name}",
      summary: "The latest registered version of an artifact",
      request: { params: NameParam("name", "momentum-model") },
      responses: { 200: { description: "the artifact", content: { "application/json": { schema: ArtifactSchema } } }, ...errorResponses(404) },
    }),
    async (c) => {
      const { name } = c.req.valid("param") as { name: string };
      const artifact = await c.var.store.artifacts.get(name);
      if (!artifact) throw new ApiError(404, `no artifact named ${name}`);
      return c.json(artifact, 200);
    },
  );

  app.openapi(
    route({
      method: "get",
      path: "/v1/artifacts/{name}/{version}",
      summary: "One version of an artifact",
      request: { params: NameParam("name", "momentum-model").extend(NameParam("version", "1.0.0").shape) },
      responses: { 200: { description: "the artifact", content: { "application/json": { schema: ArtifactSchema } } }, ...errorResponses(404) },
    }),
    async (c) => {
      const { name, version } = c.req.valid("param") as { name: string; version: string };
      const artifact = await c.var.store.artifacts.get(name, version);
      if (!artifact) throw new ApiError(404, `no artifact ${name} version ${version}`);
      return c.json(artifact, 200);
    },
  );
}
