/** How durations and long values are written in messages, the same everywhere. */

/**
 * `250ms`, `1s`, `1.5s`, `90s`, `2m`, `1h`: whole hours or minutes when exact,
 * else seconds with at most three decimals, else milliseconds below a second.
 * Every result is also valid duration syntax in node.ini.
 */
export function formatDuration(ms: number): string {
  if (ms >= 60_000) {
    for (const [unit, size] of [["h", 3_600_000], ["m", 60_000]] as const) {
      if (ms % size === 0) return `${ms / size}${unit}`;
    }
  }
  if (ms < 1000) return `${Number(ms.toFixed(3))}ms`;
  return `${Number((ms / 1000).toFixed(3))}s`;
}

/** `s` cut to `max` characters with an ellipsis, for quoting input back in a sentence. */
export function clip(s: string, max = 60): string {
  return s.length <= max ? s : `${s.slice(0, max - 3)}...`;
}
