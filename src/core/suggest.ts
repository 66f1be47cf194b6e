// "Did you mean …?" for a misspelt configuration key: the closest valid key by edit distance, where a swap of
// two neighbouring letters counts as one edit ("enabeld" → "enabled"), and case counts for nothing.

/** Edits (insert, delete, replace, swap two neighbours) from `a` to `b`, ignoring case. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  // d[i][j]: edits from the first i characters of s to the first j of t (optimal string alignment).
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i, ...Array<number>(t.length).fill(0)]);
  for (let j = 1; j <= t.length; j++) d[0][j] = j;
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[s.length][t.length];
}

/**
 * The valid key closest to `key`, when it is close enough to be a typo of it: at most a third of its letters
 * edited (at least one edit, at most three). Ties go to the first in `valid`. None when nothing is that close.
 */
export function closestKey(key: string, valid: readonly string[]): string | undefined {
  const allowed = Math.min(3, Math.max(1, Math.floor(key.length / 3)));
  let best: string | undefined;
  let bestDistance = allowed + 1;
  for (const candidate of valid) {
    const distance = editDistance(key, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * What to say about keys that are not among `valid`, or undefined when there are none: each one named, with
 * the closest valid key when there is one, then the valid keys.
 */
export function unknownKeys(keys: readonly string[], valid: readonly string[]): string | undefined {
  const unknown = keys.filter((k) => !valid.includes(k));
  if (unknown.length === 0) return undefined;
  const named = unknown.map((k) => {
    const near = closestKey(k, valid);
    return near ? `${JSON.stringify(k)} (did you mean "${near}"?)` : JSON.stringify(k);
  });
  return `unknown key${unknown.length > 1 ? 's' : ''} ${named.join(', ')}; the keys are ${valid.join(', ')}`;
}
