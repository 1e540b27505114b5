import { ENCODED_ROWS_MARK, encodedRowsId, encodedRowsOf, type EncodedRows } from '../executor/row-json.js';

/** A mark as JSON.stringify writes it, with its number captured. */
const MARKED = new RegExp(`"${ENCODED_ROWS_MARK}(\\d+)"`);

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
  const byId = new Map<number, EncodedRows>();
  for (const r of resultsOf(payload)) {
    const id = encodedRowsId(r.rows);
    if (id !== undefined) byId.set(id, encodedRowsOf(r.rows)!);
  }
  if (byId.size === 0) return undefined;
  // Each stand-in writes itself as its mark (a JSON string); split() with a capture group gives
  // text, number, text, number, …, text.
  const parts = JSON.stringify(payload).split(MARKED);
  const pieces: Buffer[] = [];
  parts.forEach((part, i) => {
    if (i % 2 === 0) pieces.push(Buffer.from(part, 'utf8'));
    else {
      const rows = byId.get(Number(part));
      // A mark this payload did not put there: fail rather than answer something else.
      if (rows === undefined) throw new Error('encoded rows mark without its rows');
      pieces.push(rows.json);
    }
  });
  return Buffer.concat(pieces);
}
