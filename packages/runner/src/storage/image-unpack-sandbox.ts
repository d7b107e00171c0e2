// Where and how a layer is extracted: the native helper `warren-unpack`, which writes as root of
// an unprivileged user namespace (see native/warren-unpack.c for the reasoning). Its host ids
// are the LAST block of the warren id range; the runner keeps that block out of the range it
// hands to environments (envIdRange), so no environment and no host user ever has those ids.
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";
import { parseSize, WarrenError } from "@warren/protocol";
import { defaultConfig } from "../host/config.ts";
import { IDS_PER_ENV, type IdRange, readWarrenRange } from "../host/idrange.ts";

export const DEFAULT_LAYER_MAX_BYTES = 20 * 1024 ** 3;

export interface UnpackSandbox {
  helper: string;
  /** First host id of the extractor's namespace (maps 0..65535 inside). */
  idStart: number;
  /** Cap on the layer's expanded (uncompressed tar) size. */
  maxBytes: number;
  /** Drop device nodes instead of refusing the layer: only for layers Warren builds itself. */
  skipDevices?: boolean;
}

/** The ids environments may use: the warren range without its last block. */
export function envIdRange(full: IdRange): IdRange {
  if (full.size < 2 * IDS_PER_ENV) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `the warren id range ${full.start}:${full.size} is too small: it needs one block of ${IDS_PER_ENV} ` +
        "ids for unpacking images plus one per environment",
    );
  }
  return { start: full.start, size: full.size - IDS_PER_ENV };
}

export function unpackIdStart(full: IdRange): number {
  return full.start + full.size - IDS_PER_ENV;
}

/** WARREN_LAYER_MAX (e.g. 20g) overrides the default cap. */
export function layerMaxBytes(): number {
  const v = process.env["WARREN_LAYER_MAX"];
  return v ? parseSize(v, "WARREN_LAYER_MAX") : DEFAULT_LAYER_MAX_BYTES;
}

/** The sandbox for the runner's configured (or /etc/subuid's) warren range. */
export async function defaultSandbox(range?: IdRange): Promise<UnpackSandbox> {
  const cfg = defaultConfig();
  const full = range ?? cfg.idRange ?? (await readWarrenRange());
  return {
    helper: path.join(cfg.nativeDir, "warren-unpack"),
    idStart: unpackIdStart(full),
    maxBytes: layerMaxBytes(),
  };
}

export interface HelperRun {
  stdin: NodeJS.WritableStream & { destroyed: boolean };
  kill(): void;
  /** Resolves when the helper exits; rejects with IMAGE_CORRUPT / IMAGE_TOO_LARGE / Error. */
  done: Promise<void>;
}

export function startUnpackHelper(sb: UnpackSandbox, dest: string, what: string): HelperRun {
  try {
    accessSync(sb.helper, constants.X_OK);
  } catch {
    throw new Error(`unpack helper ${sb.helper} is missing; build it with scripts/build-native.sh`);
  }
  const args = [dest, String(sb.idStart), String(IDS_PER_ENV), String(sb.maxBytes)];
  const child = spawn(sb.helper, sb.skipDevices ? [...args, "skip-devices"] : args, {
    stdio: ["pipe", "ignore", "pipe"],
  });
  const errs: Buffer[] = [];
  child.stderr.on("data", (d: Buffer) => errs.push(d));
  // A helper that exits early closes its stdin; that surfaces as its exit status, not as EPIPE.
  child.stdin.on("error", () => {});
  const done = new Promise<void>((resolve, reject) => {
    child.on("error", (e) => reject(new Error(`${sb.helper}: ${e.message}`)));
    child.on("close", (code, signal) => {
      if (code === 0) return resolve();
      const lines = Buffer.concat(errs).toString().trim().split("\n");
      const refused = lines.find((l) => l.startsWith("warren-unpack: refused: "));
      if (code === 3 && refused) {
        const why = refused.slice("warren-unpack: refused: ".length);
        const tooLarge = /past the cap|larger than the layer cap/.test(why);
        reject(
          new WarrenError(
            tooLarge ? "IMAGE_TOO_LARGE" : "IMAGE_CORRUPT",
            `${what}: ${why}; refusing to unpack it${tooLarge ? " (raise WARREN_LAYER_MAX to allow it)" : ""}`,
          ),
        );
        return;
      }
      reject(new Error(`warren-unpack exited ${code ?? signal}: ${lines.slice(-3).join("; ")}`));
    });
  });
  return { stdin: child.stdin, kill: () => child.kill("SIGKILL"), done };
}
