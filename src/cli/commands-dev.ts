import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { QsPool } from '../client/qs-pool.js';
import { httpTransport } from '../client/transport.js';
import { sha256 } from '../crypto/symmetric.js';
import { isQsError, QsError } from '../protocol/errors.js';
import { startServer, type RunningServer } from '../server/server.js';
import { untilSignal } from './commands-serve.js';
import { runInit, writeSecretJsonFile } from './commands-init.js';
import { callJson } from './http-json.js';
import { recordingTransport } from './demo-transport.js';
import { checkReachable, startEmbeddedPostgres, type DevDatabase } from './dev-database.js';

export interface DevOptions {
  dataDir: string;
  port: number;
  demo: boolean;
}

/** What the dev command remembers between runs (mode 0600: it holds the dev API key). */
interface DevState {
  tenant_id: string;
  api_key: string;
  integration_id: string;
  credential_id: string;
  client_keys_path: string;
  dsn_sha256: string;
}

const STATE_FILE = 'dev-credentials.json';
const DEV_OPERATIONS = ['query', 'execute', 'transaction', 'tokenize_and_insert', 'ddl'];
const DEMO_TABLE = 'qs_demo_customers';

const say = (line = '') => console.log(line);
const step = (line: string) => console.log(`  ${line}`);

/**
 * `quantaseal dev` (npm start): the proxy on 127.0.0.1 with the embedded store and local KMS, a
 * dev tenant, API key, client keys and integration, a database (DATABASE_URL, else embedded
 * PGlite), a short demo through QsPool, and the lines to paste into an app. Runs until Ctrl-C.
 */
export async function runDev(o: DevOptions): Promise<number> {
  say('QuantaSeal dev');
  say(`  data dir   ${o.dataDir}${existsSync(o.dataDir) ? ' (reusing)' : ' (new)'}`);

  let database: DevDatabase;
  if (process.env.DATABASE_URL) {
    const dsn = process.env.DATABASE_URL;
    await checkReachable(dsn);
    database = { dsn, description: 'DATABASE_URL', stop: async () => undefined };
  } else {
    say('  database   starting embedded PGlite (set DATABASE_URL to use your own PostgreSQL)…');
    database = await startEmbeddedPostgres(o.dataDir);
  }
  say(`  database   ${database.description}`);

  let server: RunningServer;
  try {
    server = await startServer({ host: '127.0.0.1', port: o.port, dataDir: o.dataDir, logLevel: process.env.QS_LOG_LEVEL ?? 'warn' });
  } catch (err) {
    await database.stop();
    throw explainStartFailure(err, o);
  }
  const { ctx } = server;
  say(`  proxy      ${server.url} (store ${ctx.store.kind}, KMS ${ctx.kms.keyRef}, crypto ${ctx.backend.detail})`);
  say(`  signing    ${ctx.signingKey.keyId} (ML-DSA-65)`);

  try {
    const state = await ensureDevTenant(server, o.dataDir, database.dsn);
    say(`  tenant     ${state.tenant_id}, integration ${state.integration_id}`);
    if (o.demo) await runDemo(server, state, database.dsn);
    say('');
    say('Use it from your app (QsPool reads these, like pg reads PG*):');
    step(`QUANTASEAL_URL=${server.url}`);
    step(`QUANTASEAL_API_KEY=${state.api_key}`);
    step(`QUANTASEAL_INTEGRATION_ID=${state.integration_id}`);
    step(`QUANTASEAL_CLIENT_KEYS=${state.client_keys_path}`);
    say('');
    say(`QuantaSeal dev server ready on ${server.url} — press Ctrl-C to stop`);
  } catch (err) {
    await server.close();
    await database.stop();
    throw err;
  }
  const code = await untilSignal(server, (line) => say(`quantaseal: ${line}`));
  await database.stop();
  return code;
}

function explainStartFailure(err: unknown, o: DevOptions): Error {
  const code = (err as { code?: string }).code;
  if (code === 'EADDRINUSE') return new QsError('QS_CONFIG', `port ${o.port} on 127.0.0.1 is busy: stop the other process or run \`npm start -- --port ${o.port + 1}\``);
  if (isQsError(err) && err.code === 'QS_KMS_FAILURE') {
    return new QsError('QS_KMS_FAILURE', `${err.message}. The data dir ${o.dataDir} does not match its master.key: restore the key, or move the data dir away to start fresh.`);
  }
  if (isQsError(err) && err.code === 'QS_CONFIG') return err;
  return new QsError('QS_CONFIG', `cannot open the data dir ${o.dataDir} (${(err as Error).message}); if it is corrupt, move it away to start fresh`, { cause: err });
}

async function ensureDevTenant(server: RunningServer, dataDir: string, dsn: string): Promise<DevState> {
  const file = path.join(dataDir, STATE_FILE);
  const dsnSha = sha256(dsn).toString('hex');
  if (existsSync(file)) {
    const state = JSON.parse(readFileSync(file, 'utf8')) as DevState;
    const asTenant = { url: server.url, apiKey: state.api_key };
    // Still known to this store? (A second `npm start` reuses everything.)
    await callJson(asTenant, 'GET', `/api/v2/integrations/${state.integration_id}`);
    if (state.dsn_sha256 !== dsnSha) {
      say('  database   changed since the last run: rotating the sealed DSN');
      await callJson(asTenant, 'POST', `/api/v2/vault/rotate/${state.credential_id}`, { values: { dsn } });
      state.dsn_sha256 = dsnSha;
      writeSecretJsonFile(file, state);
    }
    return state;
  }
  const r = await runInit({
    url: server.url,
    adminToken: server.ctx.adminToken,
    dsn,
    allow: DEV_OPERATIONS,
    tenantName: 'dev',
    keysOut: path.join(dataDir, 'client-keys.json'),
  });
  const state: DevState = {
    tenant_id: r.tenant_id,
    api_key: r.api_key,
    integration_id: r.integration_id,
    credential_id: r.credential_id,
    client_keys_path: r.client_keys_path,
    dsn_sha256: dsnSha,
  };
  writeSecretJsonFile(file, state);
  return state;
}

async function runDemo(server: RunningServer, state: DevState, dsn: string): Promise<void> {
  say('');
  say('Demo through QsPool — each answer is an ML-KEM-768 + AES-256-GCM envelope, signed with ML-DSA-65 + HMAC-SHA-512:');
  const rec = recordingTransport(httpTransport(server.url));
  const pool = new QsPool({ url: server.url, apiKey: state.api_key, integrationId: state.integration_id, clientKeys: state.client_keys_path, transport: rec.transport, max: 4 });
  try {
    await pool.query(`CREATE TABLE IF NOT EXISTS ${DEMO_TABLE} (id serial PRIMARY KEY, email text NOT NULL UNIQUE, plan text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`);
    step(`1. CREATE TABLE ${DEMO_TABLE}                 ${rec.last()}`);

    // Tokenize the email column (checked against the catalog, so after the table exists).
    await callJson({ url: server.url, apiKey: state.api_key }, 'PATCH', `/api/v2/integrations/${state.integration_id}`, {
      tokenization: { fields: [{ table: DEMO_TABLE, column: 'email', mode: 'deterministic', detokenize: true }] },
    });
    const email = 'ada@example.com';
    await pool.query(`INSERT INTO ${DEMO_TABLE} (email, plan) VALUES ($1, $2) ON CONFLICT (email) DO UPDATE SET plan = EXCLUDED.plan, updated_at = now()`, [email, 'pro']);
    step(`2. tokenized INSERT of ${email}            ${rec.last()}`);
    const stored = await peekDirect(dsn, `SELECT email FROM ${DEMO_TABLE} LIMIT 1`);
    step(`   PostgreSQL itself holds: ${stored}`);

    const { rows } = await pool.query(`SELECT id, email, plan FROM ${DEMO_TABLE} WHERE email = $1`, [email]);
    step(`3. SELECT … WHERE email = $1 → ${JSON.stringify(rows)}   ${rec.last()}`);

    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`UPDATE ${DEMO_TABLE} SET plan = $1, updated_at = now() WHERE email = $2`, ['enterprise', email]);
      const after = await client.query(`SELECT plan FROM ${DEMO_TABLE} WHERE email = $1`, [email]);
      await client.query('COMMIT');
      step(`4. transaction BEGIN; UPDATE; SELECT → ${JSON.stringify(after.rows)}; COMMIT   ${rec.last()}`);
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
}

/** One direct look at the database, to show what PostgreSQL itself stores (tokens, not PII). */
async function peekDirect(dsn: string, sql: string): Promise<string> {
  const client = new pg.Client({ connectionString: dsn });
  await client.connect();
  try {
    const r = await client.query(sql);
    return JSON.stringify(r.rows[0] ?? null);
  } finally {
    await client.end();
  }
}
