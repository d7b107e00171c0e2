// Response types of /api/v1 paths, read from the generated OpenAPI types (api-schema.d.ts), so a
// page's state has the same shape the server documents.
import type { paths } from "../../api-schema.d.ts";

type Json<R> = R extends { content: { "application/json": infer T } } ? T : never;
type Success<R> = R extends { 200: infer A } ? Json<A> : R extends { 201: infer B } ? Json<B> : never;

/** The JSON a successful `M` on path `P` answers with. */
export type Reply<P extends keyof paths, M extends "get" | "post" | "put"> = paths[P][M] extends {
  responses: infer R;
}
  ? Success<R>
  : never;

/** One element of a list reply's `items`. */
export type Item<P extends keyof paths> = Reply<P, "get"> extends { items: (infer I)[] } ? I : never;
