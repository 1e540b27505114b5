import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QsPool } from '../../src/client/qs-pool.js';
import { httpTransport, type QsTransport } from '../../src/client/transport.js';
import { isQsError } from '../../src/protocol/errors.js';
import { startFakeProxy, type FakeProxy } from '../helpers/fake-proxy.js';

/** Fails the first `failures` requests as a refused connection would, then passes through. */
function flaky(url: string, failures: number, code = 'ECONNREFUSED'): QsTransport & { requestIds: string[] } {
  const inner = httpTransport(new URL(url).origin);
  const requestIds: string[] = [];
  let left = failures;
  return {
    requestIds,
    async request(req) {
      requestIds.push((JSON.parse(req.body!.toString()) as { request_id: string }).request_id);
      if (left-- > 0) throw Object.assign(new Error(`connect ${code}`), { code });
      return inner.request(req);
    },
  };
}

describe('transport and retries', () => {
  let proxy: FakeProxy;
  const opts = (transport?: QsTransport) => ({ url: proxy.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath, ...(transport ? { transport } : {}) });
  beforeAll(async () => {
    proxy = await startFakeProxy();
  });
  afterAll(() => proxy.close());

  it('retries a read twice on connection errors, byte for byte: the same request id, so the proxy can refuse a second run of a write', async () => {
    const transport = flaky(proxy.url, 2, 'ECONNRESET');
    const pool = new QsPool(opts(transport));
    expect((await pool.query('SELECT 1')).rows).toEqual([{ '?column?': 1 }]);
    expect(transport.requestIds).toHaveLength(3);
    expect(new Set(transport.requestIds).size).toBe(1);
    await pool.end();
  });

  it('gives up after two retries with QS_TRANSPORT', async () => {
    const transport = flaky(proxy.url, 3);
    const pool = new QsPool(opts(transport));
    const err = await pool.query('SELECT 1').catch((e: unknown) => e);
    expect(isQsError(err) && err.code).toBe('QS_TRANSPORT');
    expect(transport.requestIds).toHaveLength(3);
    await pool.end();
  });

  it('never retries writes', async () => {
    const transport = flaky(proxy.url, 1);
    const pool = new QsPool(opts(transport));
    await expect(pool.query('UPDATE t SET a = 1')).rejects.toMatchObject({ code: 'QS_TRANSPORT' });
    expect(transport.requestIds).toHaveLength(1);
    await pool.end();
  });

  it('reports a proxy that is not listening as QS_TRANSPORT', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((r) => server.close(() => r()));
    const pool = new QsPool({ ...opts(), url: `http://127.0.0.1:${port}` });
    const err = await pool.query('SELECT 1').catch((e: unknown) => e);
    expect(isQsError(err) && err.code).toBe('QS_TRANSPORT');
    expect((err as Error).message).not.toContain(proxy.apiKey);
    await pool.end();
  });
});
