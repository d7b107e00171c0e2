// `warren up` flags that cannot go with a command after --: refused before anything is made,
// rather than one of them being silently ignored.
import { WarrenError } from "@warren/protocol";

export function checkUpCombination(cmd: string[], o: { json?: boolean; detach?: boolean }): void {
  if (cmd.length === 0) return;
  const shown = cmd.join(" ");
  if (o.json) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `--json cannot go with a command (-- ${shown}): the command's output is what is printed. Run \`warren up --json\` to get the environment, then \`warren exec NAME -- ${shown}\``,
    );
  }
  if (o.detach) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `--detach cannot go with a command (-- ${shown}): up runs the command and waits for it. Drop -d to run it, or drop the command to only create the environment`,
    );
  }
}
