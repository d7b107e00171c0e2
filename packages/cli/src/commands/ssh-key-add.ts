// warren ssh-key add [FILE] [--name N] [--json]: registers a public key for the SSH gateway.
// FILE defaults to the first of ~/.ssh/id_ed25519.pub, id_ecdsa.pub, id_rsa.pub; `-` reads stdin.
// The server checks the key's type and size; a private key is refused here, before it is sent.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";
import { readStdin } from "../secret-input.ts";

export const DEFAULT_KEY_FILES = ["id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"];

/** The file to read and what it holds. */
async function readKey(file: string | undefined): Promise<{ from: string; text: string }> {
  if (file === "-") return { from: "stdin", text: await readStdin() };
  if (file !== undefined) {
    try {
      return { from: file, text: await fs.readFile(file, "utf8") };
    } catch (err) {
      throw new WarrenError(
        "INVALID_ARGUMENT",
        `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
  }
  const dir = path.join(os.homedir(), ".ssh");
  for (const name of DEFAULT_KEY_FILES) {
    const p = path.join(dir, name);
    const text = await fs.readFile(p, "utf8").catch(() => undefined);
    if (text !== undefined) return { from: p, text };
  }
  throw new WarrenError(
    "INVALID_ARGUMENT",
    `no public key found (looked for ${DEFAULT_KEY_FILES.map((n) => path.join(dir, n)).join(", ")}); ` +
      "create one with `ssh-keygen -t ed25519`, or name the .pub file: `warren ssh-key add FILE`",
  );
}

export async function sshKeyAddCommand(file: string | undefined, opts: { name?: string; json?: boolean }) {
  const { from, text } = await readKey(file);
  if (text.includes("PRIVATE KEY")) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `${from} holds a private key, which never leaves this machine; give the public key (the .pub file beside it)`,
    );
  }
  const client = await connect();
  const key = await client.addSshKey({ publicKey: text, ...(opts.name ? { name: opts.name } : {}) });
  if (opts.json) printJson(key);
  else process.stdout.write(`added ${key.id} ${key.fingerprint} (${key.type}, ${key.name})\n`);
  return 0;
}
