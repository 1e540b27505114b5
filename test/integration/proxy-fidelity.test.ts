import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireResult } from '../../src/protocol/wire.js';
import { api, outbound, provisionTenant, startTestServer, type Tenant, type TestServer } from '../helpers/proxy-server.js';
import { databaseUrl, tempSchemaName } from '../helpers/pg.js';

let server: TestServer;
let tenant: Tenant;
const schema = tempSchemaName('qs_fidelity');
const admin = new pg.Client({ connectionString: databaseUrl() });
const identity = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

beforeAll(async () => {
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}; CREATE TYPE ${schema}.mood AS ENUM ('sad', 'ok', 'happy')`);
  server = await startTestServer();
  tenant = await provisionTenant(server, { allow: ['query', 'execute', 'transaction'] });
});
afterAll(async () => {
  await server?.dispose();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

const TYPES: Array<[string, string]> = [
  ['int2', `32767::int2`],
  ['int4', `'-2147483648'::int4`],
  ['int8', `9223372036854775807::int8`],
  ['numeric', `12345678901234567890.123456789::numeric`],
  ['float4', `3.14::float4`],
  ['float8', `'NaN'::float8`],
  ['bool', `true`],
  ['text', `'ünïcødé ☃ and "quotes"'::text`],
  ['varchar', `'v'::varchar(10)`],
  ['bytea', `'\\xdeadbeef'::bytea`],
  ['date', `'2026-11-29'::date`],
  ['time', `'04:05:06.789'::time`],
  ['timetz', `'04:05:06+02'::timetz`],
  ['timestamp', `'2026-11-29 04:05:06.123456'::timestamp`],
  ['timestamptz', `'2026-11-29 04:05:06+00'::timestamptz`],
  ['interval', `'1 year 2 mons 3 days 04:05:06'::interval`],
  ['json', `'{"a": [1, 2]}'::json`],
  ['jsonb', `'{"b": {"c": null}}'::jsonb`],
  ['uuid', `'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid`],
  ['inet', `'192.168.0.1/24'::inet`],
  ['cidr', `'10.0.0.0/8'::cidr`],
  ['money', `12.34::money`],
  ['int4[]', `ARRAY[1, NULL, 3]::int4[]`],
  ['text[]', `ARRAY['a', 'b c', NULL, '"q"']::text[]`],
  ['timestamptz[]', `ARRAY['2026-01-01 00:00:00+00']::timestamptz[]`],
  ['jsonb[]', `ARRAY['{"x":1}'::jsonb]`],
  ['enum', `'happy'::${schema}.mood`],
  ['null int', `NULL::int4`],
  ['null text', `NULL::text`],
  ['point', `'(1,2)'::point`],
  ['numeric[]', `ARRAY[1.5, 2.25]::numeric[]`],
];

describe('payload fidelity: decrypted rows and fields equal direct pg in raw text', () => {
  it(`covers ${TYPES.length} types in one row`, async () => {
    expect(TYPES.length).toBeGreaterThanOrEqual(25);
    const sql = `SELECT ${TYPES.map(([, expr], i) => `${expr} AS c${i}`).join(', ')}`;
    const direct = await admin.query({ text: sql, rowMode: 'array', types: identity });
    const r = await outbound(tenant, { operation: 'query', payload: { sql, params: [] } });
    const wire = (r.payload as { results: WireResult[] }).results[0]!;
    expect(wire.rows).toEqual(direct.rows);
    expect(wire.fields).toEqual(direct.fields.map((f) => ({ ...f })));
    expect(wire.command).toBe(direct.command);
    expect(wire.rowCount).toBe(direct.rowCount);
  });

  for (const [name, expr] of TYPES) {
    it(`${name} via a parameter round-trips like pg`, async () => {
      const sql = `SELECT ${expr} AS v`;
      const direct = await admin.query({ text: sql, rowMode: 'array', types: identity });
      const viaParam = (direct.rows[0] as unknown[])[0] as string | null;
      const cast = ({ enum: `${schema}.mood`, 'null int': 'int4', 'null text': 'text', varchar: 'varchar(10)' } as Record<string, string>)[name] ?? name;
      const r = await outbound(tenant, { operation: 'query', payload: { sql: `SELECT $1::${cast} AS v`, params: [viaParam] } });
      const wire = (r.payload as { results: WireResult[] }).results[0]!;
      expect(wire.rows).toEqual(direct.rows);
      expect(wire.fields[0]?.dataTypeID).toBe(direct.fields[0]!.dataTypeID);
    });
  }
});

describe('rotation under load', () => {
  it('no query fails while the credential rotates; the old password stops working once changed', async () => {
    const role = `${schema}_rot`;
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'old-pass'`);
    try {
      // Local pg_hba is trust, so a password alone cannot be refused here; the role itself is the credential we rotate away from.
      const url1 = new URL(databaseUrl());
      url1.username = role;
      url1.password = 'old-pass';
      const t = await provisionTenant(server, { allow: ['query'], dsn: url1.toString() });
      const role2 = `${schema}_rot2`;
      await admin.query(`CREATE ROLE ${role2} LOGIN PASSWORD 'new-pass'`);
      try {
        let stop = false;
        const failures: unknown[] = [];
        const users = new Set<string>();
        const load = Array.from({ length: 4 }, async () => {
          while (!stop) {
            const r = await outbound(t, { operation: 'query', payload: { sql: 'SELECT current_user' } });
            const p = r.payload as { results?: WireResult[]; error?: unknown };
            if (p.error) failures.push(p.error);
            else users.add(String(p.results?.[0]?.rows[0]?.[0]));
          }
        });
        await new Promise((r) => setTimeout(r, 300));
        const url2 = new URL(databaseUrl());
        url2.username = role2;
        url2.password = 'new-pass';
        const rot = await api(server.url, 'POST', `/api/v2/vault/rotate/${t.credentialId}`, { apiKey: t.apiKey, body: { values: { dsn: url2.toString() } } });
        expect(rot.status).toBe(200);
        await new Promise((r) => setTimeout(r, 300));
        // The old user loses its login; nothing may fail because everything runs as the new one.
        await admin.query(`ALTER ROLE ${role} NOLOGIN`);
        await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [role]);
        await new Promise((r) => setTimeout(r, 300));
        stop = true;
        await Promise.all(load);
        expect(failures).toEqual([]);
        expect(users).toEqual(new Set([role, role2]));
        const last = await outbound(t, { operation: 'query', payload: { sql: 'SELECT current_user' } });
        expect((last.payload as { results: WireResult[] }).results[0]?.rows).toEqual([[role2]]);
      } finally {
        await server.ctx.dataPlane.forgetIntegration(t.integrationId);
        await admin.query(`DROP ROLE IF EXISTS ${role2}`);
      }
    } finally {
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [role]);
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
    }
  });
});
