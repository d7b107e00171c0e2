// warren context rm NAME: forgets a saved server and its token; the current one falls back to local.
import { removeContext } from "../contexts.ts";

export async function contextRmCommand(name: string) {
  removeContext(name);
  return 0;
}
