import { QsError } from '../../protocol/errors.js';
import { PIPELINE_MAX_CALLS, type Operation, type OutboundResponsePayload } from '../../protocol/wire.js';
import { toWireError } from '../executor/errors.js';
import type { AuditEventInput } from '../store/store.js';

/** One answered call of a pipeline, as DataPlane#answer made it. */
export interface PipelineAnswer {
  payload: OutboundResponsePayload;
  audit: AuditEventInput;
  /**
   * The pipeline slot's `elapsed_ms`: the call's own time on its connection, or its whole time
   * when it failed before running. Not the wait for a pooled connection, which says nothing about
   * the statement: with 16 calls sharing a smaller pool it made point SELECTs look slow.
   */
  elapsedMs: number;
}

/**
 * Rough size of an answer in the payload's JSON: its row values and their quotes and commas
 * (rows are what grows). A walk over the values, far cheaper than serializing them twice.
 */
export function answerBytes(payload: OutboundResponsePayload): number {
  if (!('results' in payload)) return 256;
  let n = 256;
  for (const r of payload.results) {
    n += 64 * r.fields.length;
    for (const row of r.rows) {
      n += 2;
      for (const v of row) n += v === null ? 5 : v.length + 3;
    }
  }
  return n;
}

/**
 * Keeps a pipeline's answers together under `limit` by withholding the largest answers to reads
 * (`query`: run on a read-only connection, so running one again changes nothing) until the rest
 * fit or no large read is left. A withheld answer becomes QS_PIPELINE_ANSWER_TOO_LARGE, which tells the driver to run that
 * call again alone; its audit event says so. Answers to writes are never withheld: they have
 * committed, and a write must not run twice. Returns how many were withheld.
 */
export function withholdLargeReads(operations: readonly Operation[], answers: PipelineAnswer[], limit: number): number {
  const sizes = answers.map((a) => answerBytes(a.payload));
  let total = sizes.reduce((s, n) => s + n, 0);
  if (total <= limit) return 0;
  // An answer under limit / PIPELINE_MAX_CALLS cannot be what overflows it: withholding one would
  // cost a second run and save nothing that matters.
  const floor = limit / PIPELINE_MAX_CALLS;
  const reads = answers
    .map((a, i) => ({ a, i, size: sizes[i] ?? 0 }))
    .filter(({ a, i, size }) => operations[i] === 'query' && 'results' in a.payload && size > floor)
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
    total -= size;
    withheld++;
  }
  return withheld;
}
