// Engine features that arrive with later issues, one file each; the Engine delegates here so
// that each feature is owned by one file. Until a feature lands, its function says so plainly.
import { WarrenError } from "@warren/protocol";

export function notYet(what: string): never {
  throw new WarrenError("INVALID_ARGUMENT", `${what} is not available in this version of Warren`);
}
