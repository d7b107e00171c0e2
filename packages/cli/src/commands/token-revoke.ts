// warren token revoke ID: the token fails on its very next call.
import { connect } from "../connect.ts";

export async function tokenRevokeCommand(id: string) {
  const client = await connect();
  await client.revokeToken(id);
  process.stdout.write(`revoked ${id}\n`);
  return 0;
}
