// warren context use NAME: later commands talk to that server (`local` = the local socket).
import { useContext } from "../contexts.ts";

export async function contextUseCommand(name: string) {
  useContext(name);
  process.stderr.write(`warren: now using context "${name}"\n`);
  return 0;
}
