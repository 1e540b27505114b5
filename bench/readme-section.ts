import { readFileSync, writeFileSync } from 'node:fs';

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

/**
 * Replaces what sits between the bench markers in a README with `markdown` (`--update-readme`).
 * Returns false, touching nothing, when the file has no markers.
 */
export function updateReadmeSection(file: string, markdown: string): boolean {
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return false;
  writeFileSync(file, `${text.slice(0, a + START.length)}\n${markdown}\n${text.slice(b)}`);
  return true;
}
