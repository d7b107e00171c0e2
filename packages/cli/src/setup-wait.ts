// `warren up --repo` waits while the control plane clones, builds and runs the hooks, showing each
// step's output as it comes (the same lines `warren logs` keeps). An interactive up opens its shell
// once the waitFor hook is done; a script waits for every hook and learns of a failure by exit 1.
import { type ApiClient, type Environment, HOOK_FAILED_CONDITION, WarrenError } from "@warren/protocol";

const SETUP_LINE = /^\[warren [^\]]+\] (\[[^\]]+\] .*)$/;

export async function waitForSetup(
  client: ApiClient,
  name: string,
  o: { interactive: boolean; quiet?: boolean; pollMs?: number; fromStart?: boolean },
): Promise<Environment> {
  const stop = new AbortController();
  let buf = "";
  const follow = o.quiet
    ? Promise.resolve()
    : client
        .logs(name, { follow: true, ...(o.fromStart ? {} : { tail: 0 }), signal: stop.signal }, (chunk) => {
          buf += chunk;
          const lines = buf.split("\n");
          buf = lines.pop() ?? "";
          for (const l of lines) {
            const m = SETUP_LINE.exec(l);
            if (m) process.stderr.write(`${m[1]}\n`);
          }
        })
        .catch(() => undefined);
  try {
    for (;;) {
      const env = await client.getEnvironment(name);
      const s = env.setup;
      if (!s) return env;
      if (s.phase === "failed") {
        throw new WarrenError(
          "ENV_FAILED",
          `setting up ${name} failed: ${s.message ?? "see `warren logs`"}; the environment is running (\`warren shell ${name}\`), fix the repository and run \`warren rebuild ${name}\``,
          { name },
        );
      }
      const done = s.phase === "ready" && (o.interactive || s.settled === true);
      if (done) {
        const failed = env.conditions.find((c) => c.type === HOOK_FAILED_CONDITION);
        if (failed) {
          throw new WarrenError(
            "ENV_FAILED",
            `${failed.message}; environment ${name} is running and reachable (\`warren shell ${name}\`, its output in \`warren logs ${name}\`); rerun it with \`warren hook run ${name} ${failed.reason}\` or \`warren rebuild ${name}\``,
            { name, hook: failed.reason },
          );
        }
        return env;
      }
      await new Promise((r) => setTimeout(r, o.pollMs ?? 200));
    }
  } finally {
    stop.abort();
    // The follow ends at once when it was open; one still opening is left to the process exit.
    await Promise.race([follow, new Promise((r) => setTimeout(r, 1000).unref())]);
  }
}
