/**
 * What the driver does with a pipeline answer it did not expect (outbound-pipeline.ts `#send`).
 * The fake proxy seals every answer with the keys the driver trusts, so the envelope verifies and
 * only its payload is wrong: a proxy that says something wrongly is still not believed. Every
 * caller of the batch must reject with QS_TRANSPORT and none may be handed rows, or be sent again.
 * Then the 413 fallback: a pipeline refused as too large halves the driver's body bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QsPool } from '../../src/client/qs-pool.js';
import { httpTransport, type QsTransport } from '../../src/client/transport.js';
import { isQsError } from '../../src/protocol/errors.js';
import type { PipelineRequest } from '../../src/protocol/wire.js';
import { startFakeProxy, WARM_SQL, whileInFlight as whileInFlightAt, type FakePipelineHandler, type FakeProxy } from '../helpers/fake-proxy.js';

const ECHO_SQL = 'SELECT $1::text AS value';
const CALLS = 6;

let proxy: FakeProxy;
const whileInFlight = <T>(pool: QsPool, start: () => Array<Promise<T>>) => whileInFlightAt(proxy, pool, start);
beforeAll(async () => {
  proxy = await startFakeProxy();
});
afterAll(() => proxy.close());

const poolFor = () => new QsPool({ url: proxy.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath, max: 32 });

/** Each outcome as the test compares it: the row it got, or the QsError code it was refused with. */
function summary(outcomes: Array<PromiseSettledResult<{ rows: unknown[] }>>): unknown[] {
  return outcomes.map((o) => (o.status === 'fulfilled' ? { rows: o.value.rows } : isQsError(o.reason) ? o.reason.code : o.reason));
}

describe('a verified pipeline answer the driver does not understand', () => {
  /** A wrong payload built from the well-formed one (one slot per call, in order). */
  const CASES: Array<[string, (good: unknown[]) => unknown]> = [
    ['`pipeline` is an object keyed by index, not an array', (good) => ({ pipeline: Object.fromEntries(good.map((a, i) => [String(i), a])) })],
    ['`pipeline` is an array-like object of the right length', (good) => ({ pipeline: { ...good, length: good.length } })],
    ['`pipeline` is a string of the right length', (good) => ({ pipeline: 'x'.repeat(good.length) })],
    ['no `pipeline` at all (a lone call\'s payload)', (good) => good[0]],
    ['the payload is null', () => null],
    ['one answer short', (good) => ({ pipeline: good.slice(0, -1) })],
    ['one answer too many', (good) => ({ pipeline: [...good, good[0]] })],
    ['no answers', () => ({ pipeline: [] })],
    ['a null slot', (good) => ({ pipeline: good.map((a, i) => (i === 2 ? null : a)) })],
    ['a number slot', (good) => ({ pipeline: good.map((a, i) => (i === 2 ? 42 : a)) })],
    ['a slot with neither results nor error', (good) => ({ pipeline: good.map((a, i) => (i === 2 ? { session_id: null, audit_event_id: 'aud_x', elapsed_ms: 1 } : a)) })],
    ['the last slot with neither results nor error', (good) => ({ pipeline: good.map((a, i) => (i === good.length - 1 ? { session_id: null } : a)) })],
    ['a slot whose results hold null', (good) => ({ pipeline: good.map((a, i) => (i === 2 ? { results: [null], session_id: null } : a)) })],
    ['a slot whose result has no rows', (good) => ({ pipeline: good.map((a, i) => (i === 2 ? { results: [{ command: 'SELECT', fields: [] }], session_id: null } : a)) })],
    ['a slot whose rows are not arrays', (good) => ({ pipeline: good.map((a, i) => (i === 2 ? { results: [{ command: 'SELECT', fields: [], rows: ['x'] }], session_id: null } : a)) })],
    ['a slot whose error has no message', (good) => ({ pipeline: good.map((a, i) => (i === 2 ? { error: {}, session_id: null } : a)) })],
    ['a slot with both results and an error', (good) => ({ pipeline: good.map((a, i) => (i === 2 ? { ...(a as object), error: { code: 'XX000', message: 'x' } } : a)) })],
  ];

  /** Answers every pipeline with `wrong` applied to its well-formed answer; records the call count of each. */
  function answering(wrong: ((good: unknown[]) => unknown) | null, seen: number[]): FakePipelineHandler {
    return async (request: PipelineRequest) => {
      seen.push(request.calls.length);
      const good = await proxy.answerPipeline(request);
      return { payload: wrong === null ? good : wrong(good.pipeline) };
    };
  }

  async function run(wrong: ((good: unknown[]) => unknown) | null) {
    const seen: number[] = [];
    proxy.pipeline = answering(wrong, seen);
    const pool = poolFor();
    const alone = proxy.requests.length;
    try {
      const outcomes = await whileInFlight(pool, () => Array.from({ length: CALLS }, (_, i) => pool.query(ECHO_SQL, [`v${i}`])));
      // The premise: all of them travelled in one pipeline, and only the warm query went alone.
      expect(seen).toEqual([CALLS]);
      expect(proxy.requests.slice(alone).map((r) => (r.payload as { sql?: string }).sql)).toEqual([WARM_SQL]);
      return summary(outcomes);
    } finally {
      proxy.pipeline = null;
      await pool.end();
    }
  }

  it('control: the well-formed answer gives each caller its own row', async () => {
    expect(await run(null)).toEqual(Array.from({ length: CALLS }, (_, i) => ({ rows: [{ value: `v${i}` }] })));
  });

  it.each(CASES)('%s: every caller rejects with QS_TRANSPORT, none gets rows or is sent again', async (_name, wrong) => {
    expect(await run(wrong)).toEqual(Array.from({ length: CALLS }, () => 'QS_TRANSPORT'));
  });
});

describe('a pipeline refused with 413 QS_BODY_TOO_LARGE', () => {
  const SIZE = 6000;
  /** The default maxCalls: one pipeline of ~100 kB, well under the default 1 MiB bound. */
  const N_CALLS = 16;
  const value = (i: number) => `${i}:`.padEnd(SIZE, 'x');
  const expected = Array.from({ length: N_CALLS }, (_, i) => ({ rows: [{ value: value(i) }] }));

  interface Seen {
    /** The whole body's bytes, as sent. */
    bytes: number;
    calls: number;
  }

  /**
   * The same 16 calls twice while something is in flight: the first pipeline is refused with the
   * proxy's own 413 (its calls then go alone), the next ones are answered. What the fake saw.
   */
  async function refusedThenAnswered(): Promise<{ refused: Seen; bound: number; next: Seen[] }> {
    const seen: Seen[] = [];
    let refuse = true;
    proxy.pipeline = async (request, raw) => {
      seen.push({ bytes: raw.length, calls: request.calls.length });
      if (refuse) return { status: 413, code: 'QS_BODY_TOO_LARGE', message: 'the request body exceeds the size limit' };
      return { payload: await proxy.answerPipeline(request) };
    };
    const pool = poolFor();
    const round = () => whileInFlight(pool, () => Array.from({ length: N_CALLS }, (_, i) => pool.query(ECHO_SQL, [value(i)])));
    try {
      // Refused, then each call sent alone: all answer.
      expect(summary(await round())).toEqual(expected);
      expect(seen.map((p) => p.calls)).toEqual([N_CALLS]);
      const refused = seen[0]!;
      expect(refused.bytes).toBeGreaterThan(4 * 16 * 1024);

      refuse = false;
      seen.length = 0;
      expect(summary(await round())).toEqual(expected);
      // Still coalesced (no call is too big for half the bound), in smaller pipelines.
      expect(seen.length).toBeGreaterThanOrEqual(2);
      expect(seen.every((p) => p.calls >= 2)).toBe(true);
      expect(seen.reduce((n, p) => n + p.calls, 0)).toBe(N_CALLS);
      return { refused, bound: Math.max(16 * 1024, Math.floor(refused.bytes / 2)), next: [...seen] };
    } finally {
      proxy.pipeline = null;
      await pool.end();
    }
  }

  it('halves the body bound: each next pipeline, its own fields included, is at most max(16 KiB, N/2) bytes, and every call answers', async () => {
    const { bound, next } = await refusedThenAnswered();
    expect(next.filter((p) => p.bytes > bound)).toEqual([]);
  });
});

describe('a pipeline refused (404, 413) after a reset made the driver send it again', () => {
  it('is an error for every call: an earlier attempt may have run, so they are not sent alone as new requests', async () => {
    for (const refusal of [404, 413] as const) {
      const seen: number[] = [];
      let attempts = 0;
      proxy.pipeline = (request) => {
        seen.push(request.calls.length);
        return { status: refusal, code: refusal === 404 ? 'QS_NOT_FOUND' : 'QS_BODY_TOO_LARGE' };
      };
      const inner = httpTransport(new URL(proxy.url).origin);
      const transport: QsTransport = {
        async request(req) {
          const res = await inner.request(req);
          // The first pipeline reached the fake (it refused it) but its answer was lost.
          if (req.path.endsWith('/pipeline') && attempts++ === 0) throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
          return res;
        },
      };
      const pool = new QsPool({ url: proxy.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath, max: 32, transport });
      const alone = proxy.requests.length;
      try {
        const outcomes = await whileInFlight(pool, () => Array.from({ length: CALLS }, (_, i) => pool.query(ECHO_SQL, [`v${i}`])));
        expect(seen).toEqual([CALLS, CALLS]);
        expect(summary(outcomes)).toEqual(Array.from({ length: CALLS }, () => (refusal === 404 ? 'QS_NOT_FOUND' : 'QS_BODY_TOO_LARGE')));
        // Only the warm query went alone.
        expect(proxy.requests.slice(alone).map((r) => (r.payload as { sql?: string }).sql)).toEqual([WARM_SQL]);
      } finally {
        proxy.pipeline = null;
        await pool.end();
      }
    }
  });
});
