// A time-weighted EWMA of an environment's CPU use. Not a lifetime sum: that would mark a
// long-lived environment as heavy forever for work it did hours ago.

/**
 * The EWMA after a sample covering `dtMs`. The sample weighs 1 − exp(−dt/τ), so one 20 s tick
 * moves it exactly as far as two 10 s ticks of the same usage. The first sample sets it.
 */
export function nextEwma(prev: number | undefined, sample: number, dtMs: number, tauMs: number): number {
  if (prev === undefined) return sample;
  const alpha = 1 - Math.exp(-Math.max(0, dtMs) / tauMs);
  return prev + alpha * (sample - prev);
}
