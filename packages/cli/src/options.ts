// Client-side validation of flags, so bad input fails fast (exit 1) before any request.
// The server validates again; these only mirror the protocol's own parsers.
import {
  checkResourceLimit,
  NAME_RE,
  parseEgress,
  parseIdleTimeout,
  parseSize,
  RUNTIMES,
  type RuntimeName,
  WarrenError,
} from "@warren/protocol";

export function checkName(name: string, what = "name"): string {
  if (!NAME_RE.test(name)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid ${what} "${name}": use 1-40 lowercase letters, digits and dashes, starting and ending with a letter or digit`,
    );
  }
  return name;
}

/**
 * Checks a size string (512m, 2g, 512Mi, 2Gi) and returns it unchanged for the request; with
 * `limit`, also against that resource's minimum and maximum.
 */
export function checkSize(input: string, what: string, limit?: "memory" | "disk"): string {
  const bytes = parseSize(input, what);
  if (limit) checkResourceLimit(limit, bytes, what);
  return input;
}

/** Checks an idle timeout (30m, 2h, 1h30m, never) and returns it unchanged for the request. */
export function checkIdleTimeout(input: string, flag = "--idle-timeout"): string {
  try {
    parseIdleTimeout(input, flag);
  } catch (err) {
    throw new WarrenError("INVALID_ARGUMENT", (err as Error).message);
  }
  return input;
}

/** Checks an --egress value (all, none, CIDR[,CIDR...]) and returns it unchanged for the request. */
export function checkEgress(input: string): string {
  parseEgress(input);
  return input;
}

export function parseCpus(input: string, what = "--cpus"): number {
  const n = Number(input);
  if (input.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid ${what} "${input}": use a positive number such as 2 or 0.5`,
    );
  }
  return n;
}

export function parsePositiveInt(input: string, what: string): number {
  const n = Number(input);
  if (!/^\d+$/.test(input.trim()) || !Number.isSafeInteger(n) || n <= 0) {
    throw new WarrenError("INVALID_ARGUMENT", `invalid ${what} "${input}": use a positive whole number`);
  }
  return n;
}

export function checkRuntime(input: string): RuntimeName {
  if (!(RUNTIMES as readonly string[]).includes(input)) {
    throw new WarrenError(
      "RUNTIME_UNSUPPORTED",
      `unknown runtime "${input}": use one of ${RUNTIMES.join(", ")}`,
    );
  }
  return input as RuntimeName;
}
