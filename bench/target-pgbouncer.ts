import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { POOL_MAX, QUERY_TIMEOUT_MS, type BenchTarget, type SkippedTarget } from './bench-target.js';
import { spawnChild } from './child-processes.js';
import { freePort } from './free-port.js';

/** `pgbouncer --version`'s first line, or null when it is not installed (CI machines). */
export function pgbouncerVersion(): string | null {
  for (const bin of ['pgbouncer', '/usr/sbin/pgbouncer']) {
    try {
      return execFileSync(bin, ['--version'], { encoding: 'utf8' }).split('\n')[0]?.trim() ?? bin;
    } catch {
      // try the next location
    }
  }
  return null;
}

function pgbouncerBinary(): string {
  try {
    execFileSync('pgbouncer', ['--version'], { stdio: 'ignore' });
    return 'pgbouncer';
  } catch {
    // Debian installs it in /usr/sbin, which is not on every user's PATH.
    return '/usr/sbin/pgbouncer';
  }
}

/** An ini value may not contain spaces or quotes unquoted; quote it libpq-style. */
const connValue = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * pgbouncer in transaction pooling mode on a free port in front of the same PostgreSQL, from a
 * temp ini and userlist; stopped and removed by `close()`.
 */
export async function startPgbouncerTarget(databaseUrl: string): Promise<BenchTarget | SkippedTarget> {
  const version = pgbouncerVersion();
  if (version === null) return { id: 'pgbouncer', label: 'pgbouncer', note: 'pgbouncer is not installed (apt-get install pgbouncer)' };

  const db = new URL(databaseUrl);
  const user = decodeURIComponent(db.username || userInfo().username);
  const password = decodeURIComponent(db.password);
  const dbname = decodeURIComponent(db.pathname.slice(1)) || user;
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'qs-bench-pgbouncer-'));
  const server = [
    `host=${connValue(db.hostname || '127.0.0.1')}`,
    `port=${db.port || '5432'}`,
    `dbname=${connValue(dbname)}`,
    `user=${connValue(user)}`,
    ...(password ? [`password=${connValue(password)}`] : []),
  ].join(' ');
  const ini = [
    '[databases]',
    `bench = ${server}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    // No unix socket: nothing to clean up, no clash with a system pgbouncer.
    'unix_socket_dir =',
    // The bench is the only client; PostgreSQL still authenticates pgbouncer itself.
    'auth_type = trust',
    `auth_file = ${path.join(dir, 'userlist.txt')}`,
    'pool_mode = transaction',
    `default_pool_size = ${POOL_MAX}`,
    'max_client_conn = 256',
    'ignore_startup_parameters = extra_float_digits',
    'logfile =',
    'pidfile =',
    // pgbouncer refuses to run as root; it drops to this user once it has read its files.
    ...(process.getuid?.() === 0 ? ['user = postgres'] : []),
  ].join('\n');
  writeFileSync(path.join(dir, 'pgbouncer.ini'), `${ini}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, 'userlist.txt'), `"${user}" ""\n`, { mode: 0o600 });
  chmodSync(dir, 0o700);

  const child = spawnChild(pgbouncerBinary(), [path.join(dir, 'pgbouncer.ini')], {});
  const cleanup = async () => {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/bench`;
  try {
    await waitUntilAccepting(url, child.tail);
  } catch (err) {
    await cleanup();
    throw err;
  }
  const pool = new pg.Pool({ connectionString: url, max: POOL_MAX, query_timeout: QUERY_TIMEOUT_MS });
  return {
    id: 'pgbouncer',
    label: 'pgbouncer',
    detail: `${version}, pool_mode=transaction, default_pool_size=${POOL_MAX}; pg.Pool max ${POOL_MAX}`,
    pool,
    middlePid: child.pid,
    enableTokenization: () => Promise.resolve({ table: 'signups' }),
    async close() {
      await pool.end();
      await cleanup();
    },
  };
}

/** Polls until a query through pgbouncer succeeds (it has no "ready" line to wait for). */
async function waitUntilAccepting(url: string, tail: () => string): Promise<void> {
  let last: unknown;
  for (let i = 0; i < 50; i++) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch (err) {
      last = err;
      await client.end().catch(() => undefined);
      await sleep(100);
    }
  }
  throw new Error(`pgbouncer did not accept connections: ${(last as Error).message}\n${tail()}`);
}
