// Warren's device-code flow for headless terminals (RFC 8628's shape): POST /auth/device makes a
// device code (secret, the terminal polls with it) and a short user code; a person opens the
// verification page on any browser, sees which terminal asked (its client and address) and
// confirms, signs in through the browser flow, and the terminal's poll collects the token.
//
// The confirmation step is what keeps a code someone else sent a person from being approved
// blindly: the page names the code, the client and the requesting address before anything is
// sent to the identity provider.
import { randomBytes } from "node:crypto";
import { type DeviceCode, type DeviceTokenResult, WarrenError } from "@warren/protocol";
import { type Clock, isoNow } from "../clock.ts";
import type { Db } from "../store/db.ts";
import type { Queryable } from "../store/queries/envs.ts";
import * as qo from "../store/queries/oidc.ts";
import type { OidcConfig } from "./oidc-config.ts";
import { mintToken } from "./oidc-users.ts";
import { hashToken } from "./tokens.ts";

export const DEVICE_TTL_S = 600;
const DEVICE_INTERVAL_S = 5;
const USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"; // no vowels: no words, no 0/O or 1/I mix-ups
const CLIENT_MAX = 200;

/** Who asked for a device code, as the request that made it showed. */
export interface DeviceRequester {
  /** The terminal's User-Agent; untrusted, shown escaped and cut to 200 characters. */
  client?: string | undefined;
  /** The source address of POST /auth/device. */
  source?: string | undefined;
}

/** What the confirmation page shows about a live, not yet approved device code. */
export interface DeviceRequest {
  userCode: string;
  client: string | null;
  requestedFrom: string | null;
  createdAt: string;
  expiresAt: string;
}

const b64u = (b: Buffer) => b.toString("base64url");
const iso = (ms: number) => new Date(ms).toISOString();
const badDeviceCode = (message: string) =>
  new WarrenError("INVALID_ARGUMENT", message, { field: "device_code" });

export function normalizeUserCode(s: string): string {
  const c = s.toUpperCase().replace(/[^A-Z]/g, "");
  return c.length === 8 ? `${c.slice(0, 4)}-${c.slice(4)}` : s.toUpperCase();
}

/** Printable text only, bounded: a User-Agent is whatever the caller chose to send. */
function cleanClient(s: string | undefined): string | null {
  const t = (s ?? "").replace(/[\p{Cc}\p{Cf}]/gu, "").trim();
  return t === "" ? null : t.slice(0, CLIENT_MAX);
}

export function createDeviceCodes(o: {
  db: Db;
  clock: Clock;
  cfg: () => OidcConfig;
  sweepNow: () => Promise<void>;
  /** A token's expiry for the organisation (its maximum lifetime). */
  newExpiry: (trx: Queryable, orgId: string) => Promise<string>;
}) {
  const { db, clock } = o;

  /** The live, unapproved device code a person typed, normalised; refuses anything else clearly. */
  async function liveUserCode(typed: string): Promise<qo.DeviceCodeRow> {
    const code = normalizeUserCode(typed);
    const row = await qo.getDeviceCodeByUserCode(db, code);
    const bad = (why: string) =>
      new WarrenError("INVALID_ARGUMENT", `the code "${typed}" ${why}; run \`warren login\` again`, {
        field: "user_code",
      });
    if (!row) throw bad("is unknown");
    if (row.expires_at <= isoNow(clock)) throw bad(`expired (codes last ${DEVICE_TTL_S / 60} minutes)`);
    if (row.approved_user_id !== null) throw bad("was already used");
    return row;
  }

  return {
    liveUserCode,

    async describeDeviceCode(typed: string): Promise<DeviceRequest> {
      o.cfg();
      const row = await liveUserCode(typed);
      return {
        userCode: row.user_code,
        client: row.client,
        requestedFrom: row.requested_from,
        createdAt: row.created_at,
        expiresAt: row.expires_at,
      };
    },

    async createDeviceCode(requester: DeviceRequester = {}): Promise<DeviceCode> {
      const c = o.cfg();
      await o.sweepNow();
      const now = clock.now();
      let deviceCode = "";
      let userCode = "";
      for (let tries = 0; ; tries++) {
        deviceCode = b64u(randomBytes(32));
        const chars = [...randomBytes(8)]
          .map((b) => USER_CODE_ALPHABET[b % USER_CODE_ALPHABET.length])
          .join("");
        userCode = `${chars.slice(0, 4)}-${chars.slice(4)}`;
        const inserted = await qo.insertDeviceCode(db, {
          code_hash: hashToken(deviceCode),
          user_code: userCode,
          interval_s: DEVICE_INTERVAL_S,
          last_poll_at: null,
          approved_user_id: null,
          approved_org_id: null,
          client: cleanClient(requester.client),
          requested_from: requester.source?.slice(0, 100) ?? null,
          created_at: iso(now),
          expires_at: iso(now + DEVICE_TTL_S * 1000),
        });
        if (inserted) break;
        // A user code still in use elsewhere: 20^8 codes make a second clash all but impossible.
        if (tries >= 4) throw new Error("could not find a free device user code");
      }
      const page = new URL("/api/v1/auth/device/verify", c.redirectUrl);
      const complete = new URL(page);
      complete.searchParams.set("user_code", userCode);
      return {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: page.toString(),
        verification_uri_complete: complete.toString(),
        interval: DEVICE_INTERVAL_S,
        expires_in: DEVICE_TTL_S,
      };
    },

    async pollDeviceCode(deviceCode: string): Promise<DeviceTokenResult> {
      o.cfg();
      const hash = hashToken(deviceCode);
      const expired = () =>
        badDeviceCode(
          `the device code expired (codes last ${DEVICE_TTL_S / 60} minutes); run \`warren login\` again`,
        );
      // The token is minted as the approved row is taken, in one transaction: of two polls
      // racing (on two replicas), one gets the row and the token, the other nothing.
      const done = await db.transaction().execute(async (trx) => {
        const row = await qo.takeApprovedDeviceCode(trx, hash);
        if (!row?.approved_user_id || !row.approved_org_id) return undefined;
        const now = isoNow(clock);
        if (row.expires_at <= now) return "expired" as const; // the delete commits: swept
        const expiresAt = await o.newExpiry(trx, row.approved_org_id);
        const token = await mintToken(trx, {
          userId: row.approved_user_id,
          orgId: row.approved_org_id,
          now,
          expiresAt,
        });
        return { token, expiresAt };
      });
      if (done === "expired") throw expired();
      if (done) return { status: "complete", ...done };
      const row = await qo.getDeviceCode(db, hash);
      if (!row)
        throw badDeviceCode(
          "the device code is unknown or its token was already collected; run `warren login` again",
        );
      const now = clock.now();
      if (row.expires_at <= iso(now)) {
        await qo.deleteDeviceCode(db, hash);
        throw expired();
      }
      let interval = row.interval_s;
      const tooSoon = row.last_poll_at !== null && now - Date.parse(row.last_poll_at) < interval * 1000;
      if (tooSoon) interval += 5; // RFC 8628 §3.5
      await qo.recordPoll(db, hash, { lastPollAt: iso(now), intervalS: interval });
      return { status: tooSoon ? "slow_down" : "authorization_pending", interval };
    },
  };
}
