import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { callJson } from '../src/cli/http-json.js';
import { readAdminToken, runInit } from '../src/cli/commands-init.js';
import { QsPool } from '../src/client/qs-pool.js';
import { setCryptoBackend, selectBackend, type BackendChoice } from '../src/crypto/select-backend.js';
import { createSignupTable, signupEmail, SIGNUP_ROWS, type BenchSchema } from './bench-schema.js';
import { POOL_MAX, QUERY_TIMEOUT_MS, type BenchTarget, type SkippedTarget, type TargetId } from './bench-target.js';
import { spawnChild } from './child-processes.js';

/** The crypto backends the bench runs QsPool with; `pqclean-package` is the pqclean package's own build. */
export type QsBackend = 'noble' | 'pqclean' | 'pqclean-package' | 'node';

/** The QS_CRYPTO_BACKEND / setCryptoBackend choice of each. */
const CHOICES: Record<QsBackend, BackendChoice> = { noble: 'noble', pqclean: 'pqclean', 'pqclean-package': 'pqclean-native', node: 'node' };

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * The proxy as users run it — the built `quantaseal serve` (npm run bench builds first) in its own process, so its CPU and memory are its
 * own — with a fresh data dir and tenant, and a QsPool in this process verifying every answer with
 * the same crypto backend.
 */
export async function startQsPoolTarget(
  backend: QsBackend,
  databaseUrl: string,
  schema: BenchSchema,
  opts: { cpuProfDir?: string } = {},
): Promise<BenchTarget | SkippedTarget> {
  const id: TargetId = `qspool-${backend}`;
  const label = `QsPool/${backend}`;
  const choice = CHOICES[backend];
  try {
    // The client verifies with the process-wide backend: the one the proxy signs with.
    setCryptoBackend(choice);
  } catch (err) {
    return { id, label, note: (err as Error).message };
  }
  const clientBackend = selectBackend(choice).backend.detail;

  const dataDir = mkdtempSync(path.join(tmpdir(), `qs-bench-${backend}-`));
  const proxy = spawnChild(
    process.execPath,
    [...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : []), 'dist/cli/main.js', 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir],
    {
      cwd: repoRoot,
      // glibc settings the README recommends for production: MALLOC_ARENA_MAX=2 (its default of
      // up to 8 arenas per core let fragmentation add ~30 MB of RSS under load, 246 -> 215 MB) and
      // a fixed mmap threshold (large buffers stay out of the heap: ~35 MB less under 32 in flight).
      env: { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', ...process.env, QS_CRYPTO_BACKEND: choice, QS_LOG_LEVEL: 'warn' },
    },
  );
  const cleanup = async () => {
    await proxy.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const ready = await proxy.waitForLine(/listening on (\S+) .*crypto (.+?), signing key/, 60_000);
    const url = ready[1] ?? '';
    const init = await runInit({
      url,
      adminToken: readAdminToken(undefined, dataDir),
      dsn: databaseUrl,
      allow: ['query', 'execute', 'transaction', 'tokenize_and_insert'],
      tenantName: 'bench',
      keysOut: path.join(dataDir, 'client-keys.json'),
    });
    const pool = new QsPool({
      url,
      apiKey: init.api_key,
      integrationId: init.integration_id,
      clientKeys: init.client_keys_path,
      max: POOL_MAX,
      // As many sockets as pg has connections, so 32 in flight are 32 concurrent requests.
      http: { connections: POOL_MAX },
      query_timeout: QUERY_TIMEOUT_MS,
    });
    return {
      id,
      label,
      detail: `proxy crypto ${ready[2] ?? '?'}; client ${clientBackend}; QsPool max ${POOL_MAX}, ${POOL_MAX} HTTP sockets`,
      pool,
      middlePid: proxy.pid,
      async enableTokenization() {
        const table = `signups_tok_${backend.replace('-', '_')}`;
        await createSignupTable(databaseUrl, schema, table);
        try {
          await callJson({ url, apiKey: init.api_key }, 'PATCH', `/api/v2/integrations/${encodeURIComponent(init.integration_id)}`, {
            tokenization: { fields: [{ schema: schema.name, table, column: 'email', mode: 'deterministic', detokenize: true }] },
          });
        } catch (err) {
          return { table: null, note: `tokenization unavailable: ${(err as Error).message}` };
        }
        // Seeded through the proxy, so the stored e-mails are tokens the SELECT must detokenize.
        const values: string[] = [];
        const params: string[] = [];
        for (let i = 1; i <= SIGNUP_ROWS; i++) {
          values.push(`($${2 * i - 1}, $${2 * i})`);
          params.push(signupEmail(i), `Signup ${i}`);
        }
        await pool.query(`INSERT INTO ${schema.table(table)} (email, name) VALUES ${values.join(', ')}`, params);
        const stored = await storedEmail(databaseUrl, schema.table(table), 1);
        if (stored === signupEmail(1)) return { table: null, note: 'tokenization configured but the e-mails were stored in the clear' };
        return { table };
      },
      activate() {
        setCryptoBackend(choice);
      },
      async signerCounts() {
        const text = await (await fetch(`${url}/metrics`)).text();
        const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
        return { envelopes: gauge('quantaseal_signer_envelopes'), signatures: gauge('quantaseal_signer_signatures') };
      },
      async close() {
        await pool.end();
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** What PostgreSQL itself holds in a row's email column (a token, if tokenization works). */
async function storedEmail(databaseUrl: string, table: string, id: number): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ email: string }>(`SELECT email FROM ${table} WHERE id = $1`, [id]);
    return rows[0]?.email;
  } finally {
    await client.end();
  }
}
