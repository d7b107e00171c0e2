// warren registry logout HOST: forgets the stored login for HOST.
import { connect } from "../connect.ts";

export async function registryLogoutCommand(host: string) {
  const client = await connect();
  const { removed } = await client.registryLogout(host);
  process.stdout.write(removed ? `removed the login for ${host}\n` : `not logged in to ${host}\n`);
  return 0;
}
