/**
 * Which statements the driver stops coalescing (outbound-pipeline.ts `#judgeStatements`), judged
 * from each call's `elapsed_ms` in a pipeline answer. The fake proxy scripts those times, so each
 * rule is tested exactly: against the real server, the times of point SELECTs on a busy 2-core CI
 * box (the proxy shares the test's event loop) drifted past the 4x margin now and then.
 * The real server's side (elapsed_ms is a call's time on its connection) is tested in
 * pipeline.test.ts and data-plane tests.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { QsPool } from '../../src/client/qs-pool.js';
import type { PipelineRequest } from '../../src/protocol/wire.js';
import { startFakeProxy, WARM_SQL, whileInFlight, type FakeProxy } from '../helpers/fake-proxy.js';

const FAST_SQL = 'SELECT $1::text AS fast';
const SLOW_SQL = 'SELECT $1::text AS slow';

let proxy: FakeProxy;
beforeAll(async () => {
  proxy = await startFakeProxy();
});
afterAll(() => proxy.close());
afterEach(() => {
  proxy.pipeline = null;
  vi.restoreAllMocks();
});

/** Each pipeline answered well, with the `elapsed_ms` that `timeOf(sql, firstParam)` gives each call. */
function scriptTimes(timeOf: (sql: string, param: unknown) => number): void {
  proxy.pipeline = async (request: PipelineRequest) => {
    const good = await proxy.answerPipeline(request);
    return {
      payload: {
        pipeline: good.pipeline.map((answer, i) => {
          const payload = request.calls[i]!.payload as { sql: string; params?: unknown[] };
          return { ...(answer as object), elapsed_ms: timeOf(payload.sql, payload.params?.[0]) };
        }),
      },
    };
  };
}

/**
 * One round: `slow` calls of SLOW_SQL and `fast` calls of FAST_SQL, queued together while another
 * query is in flight; which route each SLOW_SQL call took ('pipeline' or 'outbound').
 */
async function round(pool: QsPool, counts: { slow: number; fast: number }): Promise<string[]> {
  const alone = proxy.requests.length;
  const calls = () => [
    ...Array.from({ length: counts.slow }, (_, i) => pool.query(SLOW_SQL, [`s${i}`])),
    ...Array.from({ length: counts.fast }, (_, i) => pool.query(FAST_SQL, [`f${i}`])),
  ];
  const outcomes = await whileInFlight(proxy, pool, calls);
  expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
  const loneSql = proxy.requests.slice(alone).map((r) => (r.payload as { sql?: string }).sql);
  // The premise: the warm query went alone, and nothing but SLOW_SQL may have joined it.
  expect(loneSql[0]).toBe(WARM_SQL);
  expect(loneSql.slice(1).every((sql) => sql === SLOW_SQL)).toBe(true);
  const lone = loneSql.length - 1;
  return [...Array.from({ length: lone }, () => 'outbound'), ...Array.from({ length: counts.slow - lone }, () => 'pipeline')];
}

const poolFor = () => new QsPool({ url: proxy.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath, max: 32 });

describe('the driver judges a statement by its calls\' elapsed_ms in pipeline answers', () => {
  it('a statement 40x slower than its companions goes alone only after holding up two pipelines in a row', async () => {
    scriptTimes((sql) => (sql === SLOW_SQL ? 40 : 1));
    const pool = poolFor();
    try {
      // Once could be a pause; twice in a row is the statement.
      expect(await round(pool, { slow: 1, fast: 6 })).toEqual(['pipeline']);
      expect(await round(pool, { slow: 1, fast: 6 })).toEqual(['pipeline']);
      expect(await round(pool, { slow: 1, fast: 6 })).toEqual(['outbound']);
    } finally {
      await pool.end();
    }
  });

  it('a round in which it kept up clears its first strike', async () => {
    let slowMs = 40;
    scriptTimes((sql) => (sql === SLOW_SQL ? slowMs : 1));
    const pool = poolFor();
    try {
      expect(await round(pool, { slow: 1, fast: 6 })).toEqual(['pipeline']);
      slowMs = 2;
      expect(await round(pool, { slow: 1, fast: 6 })).toEqual(['pipeline']);
      slowMs = 40;
      expect(await round(pool, { slow: 1, fast: 6 })).toEqual(['pipeline']);
      // Only one strike since it kept up: still coalesced.
      expect(await round(pool, { slow: 1, fast: 6 })).toEqual(['pipeline']);
      expect(await round(pool, { slow: 1, fast: 6 })).toEqual(['outbound']);
    } finally {
      await pool.end();
    }
  });

  it('a first strike is forgotten after 30 s', async () => {
    scriptTimes((sql) => (sql === SLOW_SQL ? 40 : 1));
    const realNow = Date.now.bind(Date);
    let offset = 0;
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + offset);
    const pool = poolFor();
    try {
      expect(await round(pool, { slow: 1, fast: 6 })).toEqual(['pipeline']);
      offset = 31_000;
      // The strike is 31 s old when this round holds its pipeline up: a first strike again.
      expect(await round(pool, { slow: 1, fast: 6 })).toEqual(['pipeline']);
      expect(await round(pool, { slow: 1, fast: 6 })).toEqual(['pipeline']);
      expect(await round(pool, { slow: 1, fast: 6 })).toEqual(['outbound']);
    } finally {
      await pool.end();
    }
  });

  it('a statement that held its pipeline up by 100 ms or more goes alone at once', async () => {
    scriptTimes((sql) => (sql === SLOW_SQL ? 150 : 1));
    const pool = poolFor();
    try {
      expect(await round(pool, { slow: 1, fast: 6 })).toEqual(['pipeline']);
      expect(await round(pool, { slow: 1, fast: 6 })).toEqual(['outbound']);
    } finally {
      await pool.end();
    }
  });

  it('one slow call of a statement is not a slow statement: its median decides, and it keeps coalescing', async () => {
    // Six calls of the same text; the first sleeps 150 ms (a pause, a lock), the rest do not.
    scriptTimes((sql, param) => (sql === SLOW_SQL && param === 's0' ? 150 : 1));
    const pool = poolFor();
    try {
      for (let i = 0; i < 3; i++) expect(await round(pool, { slow: 6, fast: 3 })).toEqual(Array.from({ length: 6 }, () => 'pipeline'));
    } finally {
      await pool.end();
    }
  });

  it('statements that are all equally slow keep travelling together: nobody held anybody up', async () => {
    // A busy server makes every call slow alike.
    scriptTimes(() => 60);
    const pool = poolFor();
    try {
      for (let i = 0; i < 3; i++) expect(await round(pool, { slow: 4, fast: 4 })).toEqual(Array.from({ length: 4 }, () => 'pipeline'));
    } finally {
      await pool.end();
    }
  });

  it('under 20 ms nothing is slow, whatever the ratio', async () => {
    scriptTimes((sql) => (sql === SLOW_SQL ? 19 : 0.1));
    const pool = poolFor();
    try {
      for (let i = 0; i < 3; i++) expect(await round(pool, { slow: 1, fast: 6 })).toEqual(['pipeline']);
    } finally {
      await pool.end();
    }
  });

  it('a slow statement that is most of its pipeline is measured against the others, not itself', async () => {
    scriptTimes((sql) => (sql === SLOW_SQL ? 120 : 1));
    const pool = poolFor();
    try {
      expect(await round(pool, { slow: 5, fast: 3 })).toEqual(Array.from({ length: 5 }, () => 'pipeline'));
      expect(await round(pool, { slow: 5, fast: 3 })).toEqual(Array.from({ length: 5 }, () => 'outbound'));
    } finally {
      await pool.end();
    }
  });

  it('a statement alone in its pipeline held nobody up, however slow', async () => {
    scriptTimes(() => 500);
    const pool = poolFor();
    try {
      for (let i = 0; i < 3; i++) expect(await round(pool, { slow: 6, fast: 0 })).toEqual(Array.from({ length: 6 }, () => 'pipeline'));
    } finally {
      await pool.end();
    }
  });
});
