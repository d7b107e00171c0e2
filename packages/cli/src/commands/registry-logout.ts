// warren registry logout HOST: forgets the stored login for HOST. A host with no login is a
// user error (exit 1), as `secret rm` of a missing secret is: what is missing is missing everywhere.
import { WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";

export async function registryLogoutCommand(host: string) {
  const client = await connect();
  const { removed } = await client.registryLogout(host);
  if (!removed)
    throw new WarrenError(
      "NOT_FOUND",
      `not logged in to ${host}; \`warren registry ls\` lists the hosts with a login`,
      { host },
    );
  process.stdout.write(`removed the login for ${host}\n`);
  return 0;
}
