/**
 * The row diverter on real connections in the conditions it must survive: PostgreSQL's bytes cut
 * into pieces of 1 to 3,000 bytes (messages split anywhere) through a plain and a TLS front (pg
 * hands the diverter the TLS stream), notices between rows, a NOTIFY and ParameterStatus during a
 * diverted query, a statement timeout and a cancel halfway through the rows, savepoints, and many
 * queries on two connections at once. Encoded rows must equal pg's parsed rows every time, and
 * every query after a failure must get exactly its own rows. (Adapted from a reviewer's probes.)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRaw } from '../../src/server/executor/raw-query.js';
import { DivertingClient } from '../../src/server/executor/row-diverter.js';
import { encodedRowsOf } from '../../src/server/executor/row-json.js';
import type { WireResult } from '../../src/protocol/wire.js';
import { seededRandom } from '../../bench/seeded-random.js';
import { databaseUrl, tempSchemaName } from '../helpers/pg.js';

const DivertingPoolClient = DivertingClient as unknown as new () => pg.ClientBase;
const schema = tempSchemaName('qs_divert');
let admin: pg.Client;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: databaseUrl() });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.query(
    `CREATE FUNCTION ${schema}.noisy(g int) RETURNS text LANGUAGE plpgsql VOLATILE AS $$ BEGIN RAISE NOTICE 'row % %', g, repeat('n', g % 7000); RETURN repeat('v', g % 3000); END $$`,
  );
  await admin.query(`CREATE FUNCTION ${schema}.slow(g int) RETURNS int LANGUAGE plpgsql VOLATILE AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN g; END $$`);
});
afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

/** A result's rows as values, whether encoded (parsed back from their JSON) or pg's. */
const rowsOf = (r: WireResult | undefined): unknown => {
  const e = encodedRowsOf(r?.rows);
  return e ? JSON.parse(e.json.toString('utf8')) : r?.rows;
};
const extended = (sql: string, params: unknown[] = []) => ({ kind: 'extended' as const, statement: { sql, params: params as string[] } });

/** Runs `sql` encoded, then parsed, on `client`: the rows must be the same, and encoded indeed. */
async function sameBothWays(client: pg.PoolClient, sql: string, params: unknown[] = []): Promise<unknown> {
  const [encoded] = await runRaw(client, extended(sql, params), { encodeRows: true });
  const [parsed] = await runRaw(client, extended(sql, params), {});
  expect(encodedRowsOf(encoded?.rows)).toBeDefined();
  expect(rowsOf(encoded)).toEqual(parsed?.rows);
  return rowsOf(encoded);
}

describe('on a direct connection', () => {
  let pool: pg.Pool;
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 2, Client: DivertingPoolClient });
  });
  afterAll(() => pool.end());

  const withClient = async (fn: (c: pg.PoolClient) => Promise<void>) => {
    const c = await pool.connect();
    try {
      await fn(c);
    } finally {
      c.release();
    }
  };

  it('4,000 notices between 2,000 rows, and 1 MB values', () =>
    withClient(async (c) => {
      let notices = 0;
      c.on('notice', () => notices++);
      await sameBothWays(c, `SELECT g, ${schema}.noisy(g) FROM generate_series(1, 2000) g`);
      expect(notices).toBe(4000);
      await sameBothWays(c, `SELECT repeat(chr(233), 1000000) || g FROM generate_series(1, 5) g`);
    }));

  it('a statement timeout halfway through the rows, then the next query', () =>
    withClient(async (c) => {
      await c.query('SET statement_timeout = 150');
      try {
        await expect(runRaw(c, extended(`SELECT ${schema}.slow(g), repeat('x', 5000) FROM generate_series(1, 1000) g`), { encodeRows: true })).rejects.toMatchObject({ code: '57014' });
      } finally {
        await c.query('SET statement_timeout = 0');
      }
      expect(await sameBothWays(c, 'SELECT g FROM generate_series(1, 10) g')).toHaveLength(10);
    }));

  it('a cancel halfway through the rows, then the next query', () =>
    withClient(async (c) => {
      const pid = (c as unknown as { processID: number }).processID;
      const failed = runRaw(c, extended(`SELECT ${schema}.slow(g), repeat('x', 9000) FROM generate_series(1, 1000) g`), { encodeRows: true }).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 200));
      await admin.query('SELECT pg_cancel_backend($1)', [pid]);
      expect(await failed).toMatchObject({ code: '57014' });
      expect(await sameBothWays(c, 'SELECT g FROM generate_series(1, 10) g')).toHaveLength(10);
    }));

  it('a NOTIFY and ParameterStatus messages arriving during a diverted query', () =>
    withClient(async (c) => {
      const channel = `ch_${schema}`;
      let notifications = 0;
      c.on('notification', () => notifications++);
      await c.query(`LISTEN ${channel}`);
      try {
        const running = runRaw(c, extended(`SELECT ${schema}.slow(g), set_config('application_name', 'a' || g, false) FROM generate_series(1, 30) g`), { encodeRows: true });
        await new Promise((r) => setTimeout(r, 50));
        await admin.query(`NOTIFY ${channel}, 'hello'`);
        expect(rowsOf((await running)[0])).toHaveLength(30);
        await expect.poll(() => notifications, { timeout: 1000 }).toBe(1);
        expect(await sameBothWays(c, 'SELECT g FROM generate_series(1, 10) g')).toHaveLength(10);
      } finally {
        await c.query('UNLISTEN *');
        await c.query('RESET application_name');
      }
    }));

  it('inside a transaction: an error under a savepoint, then rows again', () =>
    withClient(async (c) => {
      await c.query('BEGIN');
      try {
        await sameBothWays(c, 'SELECT g FROM generate_series(1, 100) g');
        await c.query('SAVEPOINT s');
        await expect(runRaw(c, extended('SELECT 1 / (g - 50) FROM generate_series(1, 100) g'), { encodeRows: true })).rejects.toMatchObject({ code: '22012' });
        await c.query('ROLLBACK TO SAVEPOINT s');
        expect(await sameBothWays(c, "SELECT g, 'x' FROM generate_series(1, 100) g")).toHaveLength(100);
      } finally {
        await c.query('COMMIT');
      }
    }));

  it('60 queries on two connections at once, encoded and parsed, some failing halfway: each gets exactly its own rows', async () => {
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        withClient(async (c) => {
          const n = (i * 37) % 500;
          if (i % 7 === 3) {
            await expect(runRaw(c, extended(`SELECT g, 1 / (g - ${n}) FROM generate_series(1, ${n + 10}) g`), { encodeRows: true })).rejects.toMatchObject({ code: '22012' });
            return;
          }
          const [r] = await runRaw(c, extended(`SELECT g, $1::text || g FROM generate_series(1, ${n}) g`, [`j${i}-`]), { encodeRows: i % 2 === 0 });
          expect(rowsOf(r)).toEqual(Array.from({ length: n }, (_, k) => [String(k + 1), `j${i}-${k + 1}`]));
        }),
      ),
    );
  });
});

/** A throwaway self-signed certificate for the TLS front (openssl is on every machine this runs on). */
function selfSigned(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(path.join(tmpdir(), 'qs-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    return { key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A front for the local PostgreSQL that cuts its bytes toward the client into writes of 1 to
 * 3,000 bytes (each a TLS record when `tlsOptions` are given: it answers the SSLRequest itself).
 */
function cuttingFront(tlsOptions: { key: Buffer; cert: Buffer } | null, rand: () => number): Promise<net.Server> {
  const server = net.createServer((socket) => {
    const upstream = net.connect(5432, '127.0.0.1');
    const wire = (client: net.Socket) => {
      client.on('data', (b: Buffer) => upstream.write(b));
      upstream.on('data', (b: Buffer) => {
        for (let i = 0; i < b.length; ) {
          const n = 1 + Math.floor(rand() * (rand() < 0.5 ? 7 : 3000));
          client.write(b.subarray(i, i + n));
          i += n;
        }
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
    };
    if (tlsOptions === null) return wire(socket);
    socket.once('data', () => {
      socket.write('S');
      wire(new tls.TLSSocket(socket, { isServer: true, ...tlsOptions }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

for (const overTls of [false, true]) {
  describe(`through a ${overTls ? 'TLS' : 'plain'} front that cuts PostgreSQL's bytes anywhere`, () => {
    let front: net.Server;
    let pool: pg.Pool;
    beforeAll(async () => {
      front = await cuttingFront(overTls ? selfSigned() : null, seededRandom(overTls ? 11 : 12));
      const { port } = front.address() as net.AddressInfo;
      const url = new URL(databaseUrl());
      pool = new pg.Pool({
        host: '127.0.0.1',
        port,
        user: decodeURIComponent(url.username) || 'postgres',
        database: url.pathname.slice(1) || 'test',
        max: 2,
        ssl: overTls ? { rejectUnauthorized: false } : false,
        Client: DivertingPoolClient,
      });
    });
    afterAll(async () => {
      await pool?.end();
      front?.close();
    });

    it('encoded rows equal parsed rows, with failures in between', async () => {
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const c = await pool.connect();
          try {
            if (overTls) expect((c as unknown as { connection: { stream: unknown } }).connection.stream).toBeInstanceOf(tls.TLSSocket);
            const n = (i * 53) % 400;
            if (i % 9 === 4) await expect(runRaw(c, extended(`SELECT g, 1 / (g - ${n >> 1}) FROM generate_series(1, ${n}) g`), { encodeRows: true })).rejects.toMatchObject({ code: '22012' });
            await sameBothWays(c, `SELECT g, repeat(chr(200 + g % 50), g % 300) || $1::text, CASE WHEN g % 5 = 0 THEN NULL ELSE E'\\t"\\\\' END FROM generate_series(1, ${n}) g`, [`#${i}`]);
          } finally {
            c.release();
          }
        }),
      );
    });
  });
}
