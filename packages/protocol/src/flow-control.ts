// Output flow control for exec streams. A command can write far faster than a slow client (or a
// slow link between runner and control plane) reads; without a bound, every hop would buffer the
// difference in memory. Each sender counts bytes handed to its socket and not yet written out; past
// HIGH it pauses the source (the process's stdout pipe, which then blocks the writer in the
// environment, as a pipe to a slow reader does anywhere), and resumes below LOW.
export const FLOW_HIGH = 1 << 20;
export const FLOW_LOW = 256 << 10;

export interface FlowSource {
  pause?(): void;
  resume?(): void;
}

export interface FlowGate {
  /** Sends `bytes` through `write`, whose callback fires once they left the process. */
  send(bytes: number, write: (done: () => void) => void): void;
  /** The source to pause and resume (set once the exec session exists). */
  source(s: FlowSource | undefined): void;
}

export function flowGate(high = FLOW_HIGH, low = FLOW_LOW): FlowGate {
  let pending = 0;
  let paused = false;
  let src: FlowSource | undefined;
  const settle = () => {
    if (!paused && pending > high) {
      paused = true;
      src?.pause?.();
    } else if (paused && pending < low) {
      paused = false;
      src?.resume?.();
    }
  };
  return {
    send(bytes, write) {
      pending += bytes;
      settle();
      write(() => {
        pending -= bytes;
        settle();
      });
    },
    source(s) {
      src = s;
      if (paused) src?.pause?.();
    },
  };
}
