// warren rebuild NAME: read devcontainer.json again, rebuild the image, restart into it on the
// same disk and rerun the create-time hooks. The workspace is kept; the writable root layer (what
// was installed by hand) starts over from the new image, as in Codespaces.
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";
import { waitForSetup } from "../setup-wait.ts";

export async function rebuildCommand(name: string, opts: { json?: boolean }) {
  const client = await connect();
  await client.rebuildEnvironment(name);
  const env = await waitForSetup(client, name, {
    interactive: false,
    quiet: opts.json === true,
    fromStart: false,
  });
  if (opts.json) printJson(env);
  else process.stderr.write(`warren: rebuilt ${name} (${env.setup?.image ?? env.spec.image})\n`);
  return 0;
}
