import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectionString, resolveConfig } from '../../src/client/config.js';
import { QsClient } from '../../src/client/qs-client.js';
import { QsPool } from '../../src/client/qs-pool.js';
import { isQsError, type QsError } from '../../src/protocol/errors.js';
import { startFakeProxy, type FakeProxy } from '../helpers/fake-proxy.js';

const SECRET = `qs_live_${'S3cr3t'.repeat(7)}x`;

function configError(fn: () => unknown): QsError {
  try {
    fn();
  } catch (err) {
    if (isQsError(err)) return err;
    throw err;
  }
  throw new Error('expected a QS_CONFIG error');
}

describe('driver configuration', () => {
  let proxy: FakeProxy;
  beforeAll(async () => {
    proxy = await startFakeProxy({ apiKey: SECRET });
  });
  afterAll(() => proxy.close());

  it('reads QUANTASEAL_* when options are absent; url and integration default from the keys file', () => {
    const cfg = resolveConfig(undefined, { QUANTASEAL_API_KEY: SECRET, QUANTASEAL_CLIENT_KEYS: proxy.keysPath });
    expect(cfg.url).toBe(proxy.url);
    expect(cfg.integrationId).toBe(proxy.integrationId);
    expect(cfg.tenantId).toBe(proxy.tenantId);
    const overridden = resolveConfig(undefined, {
      QUANTASEAL_API_KEY: SECRET,
      QUANTASEAL_CLIENT_KEYS: proxy.keysPath,
      QUANTASEAL_URL: 'https://proxy.example:8443/',
      QUANTASEAL_INTEGRATION_ID: 'int_OTHER',
    });
    expect(overridden.url).toBe('https://proxy.example:8443');
    expect(overridden.integrationId).toBe('int_OTHER');
  });

  it('a QsPool with no options runs on the environment', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { QUANTASEAL_API_KEY: SECRET, QUANTASEAL_CLIENT_KEYS: proxy.keysPath });
    try {
      const pool = new QsPool();
      expect((await pool.query('SELECT 1')).rows).toEqual([{ '?column?': 1 }]);
      await pool.end();
    } finally {
      process.env = saved;
    }
  });

  it('parses the quantaseal:// connection string', () => {
    expect(parseConnectionString(`quantaseal://${SECRET}@proxy.internal:8443/int_01ABC?keys=/etc/qs/keys.json&tls=1`)).toEqual({
      url: 'https://proxy.internal:8443',
      apiKey: SECRET,
      integrationId: 'int_01ABC',
      clientKeys: '/etc/qs/keys.json',
    });
    expect(parseConnectionString('quantaseal://127.0.0.1:8080')).toEqual({ url: 'http://127.0.0.1:8080', apiKey: undefined, integrationId: undefined, clientKeys: undefined });
  });

  it('connects with a connection string', async () => {
    const { port } = new URL(proxy.url);
    const pool = new QsPool({ connectionString: `quantaseal://${SECRET}@127.0.0.1:${port}/${proxy.integrationId}?keys=${encodeURIComponent(proxy.keysPath)}` });
    expect((await pool.query('SELECT $1::text AS value', ['ok'])).rows).toEqual([{ value: 'ok' }]);
    await pool.end();
  });

  it.each([
    ['no keys', {}, {}, /client keys/],
    ['no API key', { clientKeys: 'KEYS' }, {}, /no API key/],
    ['unreadable keys file', { clientKeys: '/nonexistent/keys.json', apiKey: SECRET }, {}, /cannot read the client keys file/],
    ['a postgres:// DSN', { connectionString: `postgres://app:${SECRET}@db/app` }, {}, /quantaseal:\/\/ scheme/],
    ['a direct pg option', { host: 'db', apiKey: SECRET, clientKeys: 'KEYS' }, {}, /direct PostgreSQL connection/],
    ['an unknown option', { apiKey: SECRET, clientKeys: 'KEYS', colour: 'blue' }, {}, /unknown option "colour"/],
    ['credentials in the url', { apiKey: SECRET, clientKeys: 'KEYS', url: `http://u:${SECRET}@h` }, {}, /must not carry credentials/],
    ['a bad url', { apiKey: SECRET, clientKeys: 'KEYS', url: 'ftp://h' }, {}, /http:\/\/ or https:\/\//],
  ])('%s → QS_CONFIG without the API key in the message', (_name, options, env, message) => {
    const opts = Object.fromEntries(Object.entries(options).map(([k, v]) => [k, v === 'KEYS' ? proxy.keysPath : v]));
    const err = configError(() => resolveConfig(opts, env));
    expect(err.code).toBe('QS_CONFIG');
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain(SECRET);
    expect(err.stack ?? '').not.toContain(SECRET);
  });

  it('QsPool throws QS_CONFIG at construction; a bare QsClient reports it on connect and query', async () => {
    expect(configError(() => new QsPool({ clientKeys: proxy.keysPath })).code).toBe('QS_CONFIG');
    const client = new QsClient({ clientKeys: proxy.keysPath, apiKey: undefined });
    await expect(client.connect()).rejects.toMatchObject({ code: 'QS_CONFIG' });
    await expect(client.query('SELECT 1')).rejects.toMatchObject({ code: 'QS_CONFIG' });
  });

  it('never shows the API key or secret keys in pool.options, clients, JSON or inspect', async () => {
    const pool = new QsPool({ url: proxy.url, apiKey: SECRET, clientKeys: proxy.clientKeys, max: 3 });
    const client = await pool.connect();
    for (const holder of [pool.options, pool, client]) {
      const shown = inspect(holder, { depth: 6 }) + JSON.stringify(holder, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
      expect(shown).not.toContain(SECRET);
      expect(shown).not.toContain(proxy.clientKeys.recipient.secretKey);
    }
    expect(pool.options.max).toBe(3);
    client.release();
    await pool.end();
  });
});
