/** Did-you-mean: the nearest known word to a mistyped one, for every hint in config messages. */

/** The candidate nearest to `input` (case-insensitive), if near enough to be a typo. */
export function closest(input: string, candidates: readonly string[]): string | null {
  const lower = input.toLowerCase();
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(lower, candidate.toLowerCase());
    // Short words are one typo apart at most, or everything would suggest everything.
    const limit = Math.max(lower.length, candidate.length) <= 5 ? 1 : 2;
    if (d <= limit && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** ` (did you mean 'x'?)` for the nearest candidate, or "" when none is near. */
export function didYouMean(input: string, candidates: readonly string[]): string {
  const near = closest(input, candidates);
  return near === null ? "" : ` (did you mean '${near}'?)`;
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}
