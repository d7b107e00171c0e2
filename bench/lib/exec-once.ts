// Runs one command in an environment through the API and resolves with its exit status.
import type { ApiClient } from "@warren/protocol";

export function execOnce(client: ApiClient, name: string, cmd: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    client
      .exec(
        name,
        { cmd, tty: false },
        {
          stdout: () => undefined,
          stderr: () => undefined,
          exit: resolve,
          error: reject,
        },
      )
      .then((s) => s.endStdin(), reject);
  });
}
