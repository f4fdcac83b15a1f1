/** Keeps a flood of one kind of log line (a port scan, a connection storm) from filling the journal. */

/** Options of {@link rateLimiter}. */
export interface RateLimitOptions {
  /** Lines let through per window. Default 10. */
  readonly max?: number;
  /** Window length. Default 60 s. */
  readonly windowMs?: number;
  /** Milliseconds now; default Date.now. */
  readonly now?: () => number;
}

/**
 * Wraps `emit` so at most `max` calls per window get through; the first call
 * after a window with held-back lines reports their number via `summary`.
 */
export function rateLimiter<A extends unknown[]>(
  emit: (...args: A) => void,
  summary: (suppressed: number) => void,
  options: RateLimitOptions = {},
): (...args: A) => void {
  const max = options.max ?? 10;
  const windowMs = options.windowMs ?? 60_000;
  const now = options.now ?? Date.now;
  let windowStart = -Infinity;
  let passed = 0;
  let suppressed = 0;
  return (...args: A) => {
    const t = now();
    if (t - windowStart >= windowMs) {
      if (suppressed > 0) summary(suppressed);
      windowStart = t;
      passed = 0;
      suppressed = 0;
    }
    if (passed < max) {
      passed++;
      emit(...args);
    } else {
      suppressed++;
    }
  };
}
