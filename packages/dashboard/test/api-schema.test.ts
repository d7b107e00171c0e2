// src/api-schema.d.ts is generated from the server's OpenAPI document and committed; this fails
// when a route changed and nobody regenerated it (the dashboard would type-check against an API
// that no longer exists).
import assert from "node:assert/strict";
import { test } from "node:test";
import { committedApiSchema, renderApiSchema } from "../scripts/api-schema.ts";

test("src/api-schema.d.ts matches the server's OpenAPI document", async () => {
  const fresh = await renderApiSchema();
  assert.ok(fresh.includes('"/api/v1/environments"'), "the document lists the environments route");
  assert.ok(
    committedApiSchema() === fresh,
    "src/api-schema.d.ts is stale: run `node packages/dashboard/scripts/api-schema.ts` and commit it",
  );
});
