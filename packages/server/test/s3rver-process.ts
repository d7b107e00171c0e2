// A local S3-compatible server for tests: @20minutes/s3rver (npm; the maintained fork of s3rver,
// which unlike the original checks SigV4 signatures, presigned expiry and signed headers) in a
// child process on 127.0.0.1, an ephemeral port and a temporary directory. A child, not
// in-process: the store under test then talks to it only over the wire, and s3rver's list
// pagination needs DES (its continuation tokens), which Node's OpenSSL 3 enables only with
// --openssl-legacy-provider.
//
// Run as a script it starts the server and prints {"port":N} on stdout.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";

export const S3RVER_KEY = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  stop(): Promise<void>;
}

export async function startS3rver(bucket = "warren-test"): Promise<LocalS3> {
  const dir = await mkdtemp(path.join(tmpdir(), "warren-s3rver-"));
  const child = spawn(process.execPath, ["--openssl-legacy-provider", import.meta.filename, dir, bucket], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await gone;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout });
      lines.once("line", (l) => resolve((JSON.parse(l) as { port: number }).port));
      child.once("exit", (code) => reject(new Error(`s3rver exited with ${code} before it listened`)));
      // Generous: on a loaded CI host, starting Node and loading s3rver alone can take seconds.
      setTimeout(() => reject(new Error("s3rver did not listen within 30 s")), 30_000).unref();
    });
    return { endpoint: `http://127.0.0.1:${port}`, bucket, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

if (import.meta.main) {
  const [dir, bucket] = process.argv.slice(2);
  const { default: S3rver } = await import("@20minutes/s3rver");
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket ?? "warren-test" }],
  });
  const addr = await server.run();
  process.stdout.write(`${JSON.stringify({ port: addr.port })}\n`);
  process.on("SIGTERM", () => {
    void server.close().finally(() => process.exit(0));
  });
}
