// The runner's caching DNS resolver. The runner binds it to its resolver address and
// supplies `ownName`; everything else is here.
export type { Answer, TtlPolicy } from "./answer.ts";
export { parseUpstream, type Upstream } from "./exchange.ts";
export { hostUpstreams } from "./resolv-conf.ts";
export { createResolver, type Resolver, type ResolverOptions } from "./resolver.ts";
export type { OwnName } from "./zone.ts";
