// The port proxy (server ingress/http-proxy.ts) as clients see it: GET /api/v1/http/proxy.

/** Where port URLs are served: `<scheme>://<port>--<env>--<org>.<baseDomain>[:<port>]/`. */
export interface HttpProxyInfo {
  /** False when the server runs without a port proxy (no --http-listen, or its address was taken). */
  listening: boolean;
  /** The address it listens on, as configured (empty when not listening). */
  host: string;
  /** Its TCP port (0 when not listening). */
  port: number;
  /** The domain port URLs live under, e.g. `localhost`. */
  baseDomain: string;
  scheme: "http" | "https";
}
