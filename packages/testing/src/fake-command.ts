// The commands the fake runner's exec understands, standing in for processes at the protocol
// boundary: `echo ARGS`, `warn ARGS` (stderr, exit 1), `exit N`, `cat` (echoes stdin, reports
// resizes), `sleep` (runs until signalled) and `flood BYTES` (output as fast as pause() allows).
// Anything else exits 127, as a shell would.
import type { ExecHandlers, ExecRequest, ExecSession } from "@warren/protocol";

/** What a test reads back about the commands it ran. */
export interface FakeCommandCounts {
  execBytesOut: number;
  execPauses: number;
  execSignals: string[];
}

export function startFakeCommand(req: ExecRequest, h: ExecHandlers, counts: FakeCommandCounts): ExecSession {
  const [cmd, ...args] = req.cmd;
  const resizes: [number, number][] = [];
  let done = false;
  const exit = (code: number) => {
    if (done) return;
    done = true;
    h.exit(code);
  };
  setImmediate(() => {
    if (cmd === "exit") exit(Number(args[0] ?? 0));
    else if (cmd === "echo") {
      h.stdout(Buffer.from(`${args.join(" ")}\n`));
      exit(0);
    } else if (cmd === "warn") {
      h.stderr(Buffer.from(`${args.join(" ")}\n`));
      exit(1);
    } else if (cmd === "flood") {
      // `flood BYTES`: writes 64 KiB chunks as fast as it may, honouring pause() like a pipe.
      let left = Number(args[0] ?? 0);
      const chunk = Buffer.alloc(64 * 1024, 120);
      const pump = () => {
        while (left > 0 && !floodPaused) {
          const n = Math.min(left, chunk.length);
          left -= n;
          counts.execBytesOut += n;
          h.stdout(chunk.subarray(0, n));
          if (left > 0) return setImmediate(pump);
        }
        if (left <= 0) exit(0);
      };
      resumeFlood = pump;
      pump();
    } else if (cmd !== "cat" && cmd !== "sleep") exit(127);
  });
  let floodPaused = false;
  let resumeFlood: (() => void) | undefined;
  return {
    stdin: (d) => {
      if (cmd === "cat") h.stdout(d);
    },
    endStdin: () => {
      if (cmd === "cat") exit(0);
    },
    resize: (cols, rows) => {
      resizes.push([cols, rows]);
      if (cmd === "cat") h.stdout(Buffer.from(`resize ${cols}x${rows}\n`));
    },
    pause: () => {
      counts.execPauses++;
      floodPaused = true;
    },
    resume: () => {
      floodPaused = false;
      setImmediate(() => resumeFlood?.());
    },
    signal: (sig) => {
      counts.execSignals.push(sig);
      const signo = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[sig as string] ?? 15;
      exit(128 + signo);
    },
  };
}
