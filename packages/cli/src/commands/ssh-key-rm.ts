// warren ssh-key rm ID: the key no longer logs in, and SSH sessions it opened end.
import { connect } from "../connect.ts";

export async function sshKeyRmCommand(id: string) {
  const client = await connect();
  await client.removeSshKey(id);
  process.stdout.write(`removed ${id}\n`);
  return 0;
}
