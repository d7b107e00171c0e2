// The organisation's quota document: resource quotas (the quotas page) and the policies kept
// beside them (public ports, longest idle timeout, longest token lifetime: the policies page).
import { api, unwrap } from "../../api.ts";
import type { paths } from "../../api-schema.d.ts";
import type { Reply } from "../settings/api-types.ts";

export type QuotaView = Reply<"/api/v1/orgs/{org}/quotas", "get">;
export type QuotaChange = NonNullable<
  paths["/api/v1/orgs/{org}/quotas"]["put"]["requestBody"]
>["content"]["application/json"];

export const getQuotas = (org: string): Promise<QuotaView> =>
  unwrap(api.GET("/api/v1/orgs/{org}/quotas", { params: { path: { org } } }));

export const setQuotas = (org: string, body: QuotaChange): Promise<QuotaView> =>
  unwrap(api.PUT("/api/v1/orgs/{org}/quotas", { params: { path: { org } }, body }));

/** A form field as a quota value: empty clears it (null, unlimited). */
export const orNull = (s: string): string | null => (s.trim() === "" ? null : s.trim());
export const numberOrNull = (s: string): number | null => (s.trim() === "" ? null : Number(s));
