/**
 * Compares the output a page shows with the output a command printed. Figures
 * vary from run to run (counts, rates, durations, run ids, the data folder),
 * so both sides are normalised first; then every line the page shows must
 * appear in the real output, in the same order. The program may print more
 * (progress lines, a line that appears only sometimes): a page shows "a
 * summary like this", not every line.
 */

export function normaliseLine(line: string, replacements: [string, string][] = []): string {
  let text = line;
  for (const [from, to] of replacements) text = text.split(from).join(to);
  return (
    text
      // run ids and ISO timestamps
      .replace(/\d{4}-\d\d-\d\dT\d\d[-:]\d\d[-:]\d\d(?:\.\d+)?Z(?:-[0-9a-f]+)?/g, "<time>")
      // numbers, with thousands separators and decimals
      .replace(/\d+(?:,\d{3})*(?:\.\d+)?/g, "#")
      // durations: "# s", "# min # s", "# h # min", "# ms"
      .replace(/# (?:ms|s|min|h)\b(?: # (?:s|min)\b)?/g, "<duration>")
      // lists of counts by name ("black #, white #, ..."), whose names and length vary
      .replace(/[\w-]+ #(?:, [\w-]+ #)*/g, "<counts>")
      .replace(/\s+/g, " ")
      .trim()
  );
}

export interface Mismatch {
  /** The first line the page shows that the output lacks (in order). */
  missing: string;
  lineIndex: number;
}

export function compareOutput(
  shown: string[],
  actual: string,
  replacements: [string, string][] = [],
): Mismatch | undefined {
  const real = actual.split("\n").map((l) => normaliseLine(l, replacements));
  let from = 0;
  for (let i = 0; i < shown.length; i++) {
    const expected = normaliseLine(shown[i] ?? "", replacements);
    if (expected === "") continue;
    const at = real.indexOf(expected, from);
    if (at < 0) return { missing: shown[i] ?? "", lineIndex: i };
    from = at + 1;
  }
  return undefined;
}
