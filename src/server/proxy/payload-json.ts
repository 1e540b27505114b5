import { randomBytes } from 'node:crypto';
import { encodedRowsOf, type EncodedRows } from '../executor/row-json.js';

/**
 * Stands in for a result's encoded rows inside JSON.stringify's output, to be replaced by their
 * bytes. Random per process, so no string in a payload can be mistaken for it.
 */
const MARK = `qs-rows-${randomBytes(16).toString('hex')}-`;
const MARKED = new RegExp(`"${MARK}(\\d+)"`);

/** Results inside a data-plane payload: a lone call's, or each pipeline answer's. */
function* resultsOf(payload: unknown): Generator<{ rows?: unknown }> {
  const p = payload as { results?: unknown; pipeline?: unknown } | null;
  if (Array.isArray(p?.results)) yield* p.results as Array<{ rows?: unknown }>;
  if (Array.isArray(p?.pipeline)) for (const answer of p.pipeline) yield* resultsOf(answer);
}

/**
 * The payload's JSON, UTF-8, with every result whose rows are EncodedRows (row-json.ts) carrying
 * their bytes where JSON.stringify would have written the rows — the same text, produced without
 * turning the rows into strings. Undefined when no result has encoded rows: then JSON.stringify
 * of the payload, as for any payload, is the answer.
 */
export function serializePayload(payload: unknown): Buffer | undefined {
  let any = false;
  for (const r of resultsOf(payload)) if (encodedRowsOf(r.rows) !== undefined) any = true;
  if (!any) return undefined;
  const spliced: EncodedRows[] = [];
  const text = JSON.stringify(payload, (key: string, value: unknown) => {
    if (key !== 'rows') return value;
    const encoded = encodedRowsOf(value);
    if (encoded === undefined) return value;
    spliced.push(encoded);
    return `${MARK}${spliced.length - 1}`;
  });
  const parts = text.split(MARKED);
  const pieces: Buffer[] = [];
  // split() with a capture group: text, index, text, index, …, text.
  parts.forEach((part, i) => pieces.push(i % 2 === 0 ? Buffer.from(part, 'utf8') : spliced[Number(part)]!.json));
  return Buffer.concat(pieces);
}
