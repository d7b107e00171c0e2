// What the OIDC service (oidc.ts) promises its callers: the browser flow's start, the results of
// each kind of sign-in it can finish, and the service's interface.
import type { DeviceCode, DeviceTokenResult, Role } from "@warren/protocol";
import type { DeviceRequest, DeviceRequester } from "./oidc-device.ts";

/** A browser flow just started: send the browser to `url`, and keep `binding` in its cookie for `state`. */
export interface FlowStart {
  url: string;
  state: string;
  binding: string;
}

export interface SignInResult {
  token: string;
  expiresAt: string;
  user: string;
  org: string;
  role: Role;
}

/** A browser sign-in started at a port URL: who signed in, for the port sign-in to check and admit. */
export interface PortFlowResult {
  port: { envId: string; port: number };
  userId: string;
  orgId: string;
  role: Role;
}

/** A browser sign-in started at the dashboard: who signed in, for a one-time dashboard code on `host`. */
export interface DashboardFlowResult {
  dashboard: { host: string };
  userId: string;
  orgId: string;
  role: Role;
}

/** A browser sign-in that approved a device code: the token goes to the terminal, not here. */
export interface DeviceApproval {
  user: string;
  org: string;
  role: Role;
}

export interface OidcService {
  /**
   * Starts a browser flow; `userCode` makes it approve that device code (only after the person
   * confirmed it on the page describeDeviceCode fills).
   */
  start(userCode?: string): Promise<FlowStart>;
  /** Starts a browser flow that ends at port `port` of environment `envId` instead of minting a token. */
  startForPort(envId: string, port: number): Promise<FlowStart>;
  /** Starts a browser flow that ends in a dashboard session on `host` (the server's own dashboard host). */
  startForDashboard(host: string): Promise<FlowStart>;
  /** Whether OIDC is set up (WARREN_OIDC_*); every other method refuses when it is not. */
  configured(): boolean;
  /**
   * Finishes a browser flow; `binding` is the value start() returned, from the browser's cookie.
   * `device` is set when it approved a device code instead.
   */
  callback(
    params: Record<string, string | undefined>,
    source: string,
    binding: string | undefined,
  ): Promise<
    | (SignInResult & { device: false; port?: undefined; dashboard?: undefined })
    | (DeviceApproval & { device: true; port?: undefined; dashboard?: undefined })
    | (PortFlowResult & { device: false; dashboard?: undefined })
    | (DashboardFlowResult & { device: false; port?: undefined })
  >;
  createDeviceCode(requester?: DeviceRequester): Promise<DeviceCode>;
  /** Where the browser reaches the callback and whether over https: the sign-in cookies' scope. */
  callbackScope(): { path: string; secure: boolean };
  /** What the confirmation page shows about a live, unapproved device code; refuses any other. */
  describeDeviceCode(userCode: string): Promise<DeviceRequest>;
  pollDeviceCode(deviceCode: string): Promise<DeviceTokenResult>;
  /** Deletes expired sign-ins in progress now; returns how many. start() and createDeviceCode() also do it. */
  sweep(): Promise<number>;
}
