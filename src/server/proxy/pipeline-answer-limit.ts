import { QsError } from '../../protocol/errors.js';
import { PIPELINE_MAX_CALLS, type OutboundResponsePayload } from '../../protocol/wire.js';
import { toWireError } from '../executor/errors.js';
import { encodedRowsOf } from '../executor/row-json.js';
import type { AuditEventInput } from '../store/store.js';

/** One answered call of a pipeline, as DataPlane#answer made it. */
export interface PipelineAnswer {
  payload: OutboundResponsePayload;
  audit: AuditEventInput;
  /**
   * The pipeline slot's `elapsed_ms`: the call's own time on its connection (a failed statement's
   * too), 0 when it never got one. Not the wait for a pooled connection, which says nothing about
   * the statement: with 16 calls sharing a smaller pool it made point SELECTs look slow.
   */
  elapsedMs: number;
  /**
   * It ran on a read-only connection, so running it again changes nothing. Not the same as
   * operation `query`: a SELECT that writes (nextval(), a writing function) is rerun on the write
   * pool when the integration may write.
   */
  readOnly: boolean;
}

/** Characters JSON.stringify escapes: `\"` `\\` `\b` `\f` `\n` `\r` `\t` in 2 bytes, the other controls as `\u00XX`. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;
const SHORT_ESCAPES = /["\\\b\f\n\r\t]/g;
const LONG_ESCAPES = /[\u0000-\u0007\u000b\u000e-\u001f]/g;

/** Bytes of one value in the payload's JSON: UTF-8, quotes, escapes, separator. */
function valueBytes(v: string): number {
  const n = Buffer.byteLength(v, 'utf8') + 3;
  // Most values have nothing to escape, and then no match array is built.
  if (!NEEDS_ESCAPE.test(v)) return n;
  return n + (v.match(SHORT_ESCAPES)?.length ?? 0) + 5 * (v.match(LONG_ESCAPES)?.length ?? 0);
}

/** What no value's JSON exceeds: each UTF-16 unit written as a 6-byte escape. Length only: O(1). */
const valueBound = (v: string): number => 6 * v.length + 3;

/** An answer's JSON size, summing `value` over its row values plus 256 bytes per field. */
function sizeOf(payload: OutboundResponsePayload, value: (v: string) => number): number {
  if (!('results' in payload)) return 1024;
  let n = 256;
  for (const r of payload.results) {
    n += 256 * r.fields.length;
    // Rows already written as JSON (row-json.ts): their size is known exactly.
    n += encodedRowsOf(r.rows)?.json.length ?? 0;
    for (const row of r.rows) {
      n += 2;
      for (const v of row) n += v === null ? 5 : value(v);
    }
  }
  return n;
}

/** An answer's size in the payload's JSON, never less than the truth. */
export function answerBytes(payload: OutboundResponsePayload): number {
  return sizeOf(payload, valueBytes);
}

/**
 * Keeps a pipeline's answers together under `limit` by withholding the largest answers that ran
 * on a read-only connection until the rest fit or no large one is left. A withheld answer becomes
 * QS_PIPELINE_ANSWER_TOO_LARGE, which tells the driver to run that call again alone; its audit
 * event says the answer did not reach the caller. Nothing that ran on a writable connection is
 * withheld: it may have written, and must not run twice. Returns how many were withheld.
 */
export function withholdLargeReads(answers: PipelineAnswer[], limit: number): number {
  // The bound by lengths alone settles nearly every pipeline without reading a byte of its rows.
  if (answers.reduce((s, a) => s + sizeOf(a.payload, valueBound), 0) <= limit) return 0;
  const sizes = answers.map((a) => answerBytes(a.payload));
  let total = sizes.reduce((s, n) => s + n, 0);
  if (total <= limit) return 0;
  // An answer under limit / PIPELINE_MAX_CALLS cannot be what overflows it: withholding one would
  // cost a second run and save nothing that matters.
  const floor = limit / PIPELINE_MAX_CALLS;
  const reads = answers
    .map((a, i) => ({ a, size: sizes[i] ?? 0 }))
    .filter(({ a, size }) => a.readOnly && 'results' in a.payload && size > floor)
    .sort((x, y) => y.size - x.size);
  let withheld = 0;
  for (const { a, size } of reads) {
    if (total <= limit) break;
    const refusal = new QsError(
      'QS_PIPELINE_ANSWER_TOO_LARGE',
      `this answer (~${Math.ceil(size / 1024)} KiB) was withheld: the pipeline's answers together exceed ${limit} bytes; send the statement alone`,
    );
    a.payload = { error: toWireError(refusal), session_id: null };
    a.audit.outcome = 'failed';
    a.audit.qsCode = refusal.code;
    a.audit.sqlstate = refusal.sqlstate;
    a.audit.rowCount = null;
    total -= size;
    withheld++;
  }
  return withheld;
}
