// A failed secret delivery names the secret (name and where it goes) and why, never its value,
// and is terminal, so the controller marks the environment failed instead of retrying it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type SecretDelivery, WarrenError } from "@warren/protocol";
import { secretDeliveryFailure } from "../src/engine/secret-failure.ts";

const secrets: SecretDelivery[] = [
  { name: "DB_PASSWORD", kind: "env", value: "hunter2-very-secret" },
  { name: "API_TOKEN", kind: "env", value: "tok-abcdef" },
  { name: "tls-key", kind: "file", path: "/run/secrets/tls.key", value: "-----BEGIN KEY----- abc" },
];

test("a file secret the helper names is the one reported, with the reason and what to do", () => {
  const err = secretDeliveryFailure("dev", secrets, new Error("write tls.key: No space left on device"));
  assert.equal(err.code, "SECRET_DELIVERY_FAILED");
  assert.match(
    err.message,
    /^secret "tls-key" \(file \/run\/secrets\/tls\.key\) could not be delivered: write tls\.key: No space left on device\./,
  );
  assert.match(err.message, /stopped, not started without it.*`warren start dev`/);
  assert.deepEqual(err.details, { secrets: ["tls-key"] });
  // A typed code, not a plain Error: the control plane treats it as terminal (no restart loop).
  assert.ok(err instanceof WarrenError);
});

test("the variables file names every variable secret", () => {
  const err = secretDeliveryFailure("dev", secrets, new Error("/run/secrets/.env: EROFS"));
  assert.match(err.message, /^the variable secrets "DB_PASSWORD", "API_TOKEN" \(in \/run\/secrets\/\.env\)/);
});

test("an error naming nothing lists the candidates; a value in a reason is never repeated", () => {
  const err = secretDeliveryFailure("dev", secrets, new Error("helper wrote hunter2-very-secret to stderr"));
  assert.match(err.message, /^one of its secrets \("DB_PASSWORD", "API_TOKEN", "tls-key"\)/);
  assert.ok(!err.message.includes("hunter2"), err.message);
  assert.match(err.message, /helper wrote \*\*\* to stderr/);
});
