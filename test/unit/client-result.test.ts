import { createRequire } from 'node:module';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildResult } from '../../src/client/result.js';
import { QsClient } from '../../src/client/qs-client.js';
import type { WireResult } from '../../src/protocol/wire.js';
import { field, selectResult, startFakeProxy, type FakeProxy } from '../helpers/fake-proxy.js';

const require = createRequire(import.meta.url);
const { Field } = require('pg-protocol/dist/messages.js') as { Field: new (...a: unknown[]) => unknown };

type TypesArg = { getTypeParser: (oid: number, format?: string) => unknown } | undefined;

/**
 * What direct pg builds for the same answer: a real pg.Query fed the wire messages in the order
 * PostgreSQL sends them, with the client's TypeOverrides attached exactly as pg.Client.query does.
 */
function directPg(wires: WireResult[], opts: { rowMode?: 'array'; types?: TypesArg; clientTypes?: TypesArg } = {}): Promise<unknown> {
  const client = new pg.Client(opts.clientTypes ? { types: opts.clientTypes as pg.CustomTypesConfig } : {});
  return new Promise((resolve, reject) => {
    const query = new pg.Query({ text: 'x', rowMode: opts.rowMode, types: opts.types } as pg.QueryConfig, (err: Error | undefined, res: unknown) => (err ? reject(err) : resolve(res)));
    const q = query as unknown as Record<string, (...a: unknown[]) => void> & { _result: { _types?: unknown } };
    if (!q._result._types) q._result._types = (client as unknown as { _types: unknown })._types;
    for (const w of wires) {
      if (w.fields.length > 0 || w.command === 'SELECT') {
        q.handleRowDescription!({ fields: w.fields.map((f) => new Field(f.name, f.tableID, f.columnID, f.dataTypeID, f.dataTypeSize, f.dataTypeModifier, f.format)) });
      }
      for (const row of w.rows) q.handleDataRow!({ fields: row });
      const tag = w.command === 'INSERT' ? `INSERT ${w.oid ?? 0} ${w.rowCount}` : w.rowCount === null ? w.command : `${w.command} ${w.rowCount}`;
      q.handleCommandComplete!({ text: tag }, {});
    }
    q.handleReadyForQuery!({});
  });
}

const mixed = selectResult(
  [field('id', 23), field('big', 20), field('num', 1700), field('ok', 16), field('at', 1184), field('day', 1082), field('doc', 3802), field('tags', 1009), field('bytes', 17), field('f', 701), field('nothing', 25)],
  [
    ['1', '9007199254740993', '12.50', 't', '2026-11-29 04:00:00+00', '2026-11-29', '{"a":[1,2]}', '{a,"b c",NULL}', '\\x00ff', '1.5', null],
    ['2', '-1', '0', 'f', '1999-01-08 04:05:06.789+02', '1999-01-08', 'null', '{}', '\\x', 'NaN', null],
  ],
);
const insert: WireResult = { command: 'INSERT', rowCount: 3, oid: 0, fields: [], rows: [] };
const returning: WireResult = { command: 'UPDATE', rowCount: 1, oid: null, fields: [field('id', 23)], rows: [['7']] };
const begin: WireResult = { command: 'BEGIN', rowCount: null, oid: null, fields: [], rows: [] };

describe('WireResult → pg Result', () => {
  const clientTypes = () => (new QsClient({ transport: { request: async () => ({ status: 500, body: Buffer.alloc(0) }) } }) as QsClient)._types;

  it.each([
    ['SELECT with many types', mixed],
    ['INSERT without RETURNING', insert],
    ['UPDATE … RETURNING', returning],
    ['BEGIN', begin],
    ['empty SELECT', selectResult([field('id', 23)], [])],
  ])('%s is deep-equal to direct pg', async (_name, wire) => {
    const expected = await directPg([wire]);
    expect(buildResult(wire, undefined, clientTypes())).toStrictEqual(expected);
  });

  it('honours rowMode array', async () => {
    const expected = await directPg([mixed], { rowMode: 'array' });
    const actual = buildResult(mixed, 'array', clientTypes());
    expect(actual).toStrictEqual(expected);
    expect(Array.isArray(actual.rows[0])).toBe(true);
  });

  it('honours per-query types', async () => {
    // Stable functions: a Result keeps the parser functions themselves, compared by identity.
    const asInt = (v: string) => `int:${v}`;
    const raw = (v: string) => v;
    const types = { getTypeParser: (oid: number) => (oid === 23 ? asInt : raw) };
    const expected = await directPg([mixed], { types });
    const actual = buildResult(mixed, undefined, types);
    expect(actual).toStrictEqual(expected);
    expect((actual.rows[0] as Record<string, unknown>).id).toBe('int:1');
  });

  it('returns pg.Result instances with pg-protocol Fields', () => {
    const r = buildResult(mixed, undefined, undefined);
    expect(r).toBeInstanceOf(pg.Result);
    expect(r.fields[0]).toBeInstanceOf(Field);
  });

  describe('a global parser set with pg.types.setTypeParser', () => {
    const original = pg.types.getTypeParser(1700, 'text');
    afterEach(() => pg.types.setTypeParser(1700, original));

    it('applies to rebuilt results exactly as to direct pg', async () => {
      pg.types.setTypeParser(1700, (v: string) => Number.parseFloat(v));
      const expected = await directPg([mixed]);
      const actual = buildResult(mixed, undefined, clientTypes());
      expect(actual).toStrictEqual(expected);
      expect((actual.rows[0] as Record<string, unknown>).num).toBe(12.5);
    });
  });
});

describe('results through QsClient', () => {
  let proxy: FakeProxy;
  beforeAll(async () => {
    proxy = await startFakeProxy();
  });
  afterAll(() => proxy.close());

  it('a query through the proxy equals direct pg, including multi-statement arrays', async () => {
    const client = new QsClient({ url: proxy.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath });
    await client.connect();
    proxy.handler = () => ({ results: [mixed] });
    expect(await client.query('SELECT …')).toStrictEqual(await directPg([mixed]));
    proxy.handler = () => ({ results: [begin, insert, returning] });
    expect(await client.query('BEGIN; INSERT …; UPDATE …')).toStrictEqual(await directPg([begin, insert, returning]));
    await client.end();
  });

  it('uses the client-level types option like pg', async () => {
    const yesNo = (v: string) => (v === 't' ? 'yes' : 'no');
    const types = { getTypeParser: (oid: number) => (oid === 16 ? yesNo : pg.types.getTypeParser(oid)) };
    const client = new QsClient({ url: proxy.url, apiKey: proxy.apiKey, clientKeys: proxy.keysPath, types });
    proxy.handler = () => ({ results: [mixed] });
    const res = await client.query('SELECT …');
    expect(res).toStrictEqual(await directPg([mixed], { clientTypes: types }));
    expect((res!.rows[0] as Record<string, unknown>).ok).toBe('yes');
    await client.end();
  });
});
