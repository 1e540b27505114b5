/**
 * The first-run check (issue 8), run by .ci/run after the test suite: clone the repository to a
 * temp dir, `npm ci`, then `npm start` with no environment — wait for the ready line, run a query
 * through QsPool with the settings it printed, stop it with Ctrl-C and expect a clean exit.
 * Again to see the state reused, and once more with DATABASE_URL at the local PostgreSQL.
 *
 *   node --import tsx test/first-run/first-run.ts
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Quantaseal from '../../src/index.js';

const repo = path.resolve(import.meta.dirname, '../..');
const work = mkdtempSync(path.join(tmpdir(), 'qs-first-run-'));
const clone = path.join(work, 'quantaseal');
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const READY = /QuantaSeal dev server ready on (\S+)/;

function log(line: string): void {
  console.log(`first-run: ${line}`);
}

function run(cmd: string, args: string[], cwd: string): void {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: minimalEnv(), maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    const logFile = path.join(work, `${path.basename(cmd)}.log`);
    writeFileSync(logFile, `${r.stdout}\n${r.stderr}`);
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}); tail:\n${`${r.stdout}\n${r.stderr}`.slice(-3000)}`);
  }
  log(`${cmd} ${args.join(' ')} ok in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** What a fresh shell has: no QUANTASEAL_*, no DATABASE_URL, no QS_* unless a step adds them. */
function minimalEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'npm_config_cache'];
  return { ...Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]])), ...extra };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

interface DevRun {
  url: string;
  env: Record<string, string>;
  stop: () => Promise<{ lingered: boolean; output: string }>;
}

async function startDev(extraEnv: Record<string, string>): Promise<DevRun> {
  const port = await freePort();
  // Its own process group, so a signal reaches npm and the server together, as Ctrl-C in a terminal does.
  const child = spawn('npm', ['start', '--', '--port', String(port)], { cwd: clone, env: minimalEnv(extraEnv), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      /* already gone */
    }
  };
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 180_000;
  while (!READY.test(output)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      signalGroup('SIGKILL');
      throw new Error(`npm start did not print its ready line:\n${output.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const env = Object.fromEntries([...output.matchAll(/^\s*(QUANTASEAL_[A-Z_]+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  const groupAlive = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  return {
    url: READY.exec(output)![1]!,
    env,
    stop: async () => {
      signalGroup('SIGINT');
      // npm itself dies of the SIGINT (as under Ctrl-C); what matters is that the server shuts
      // down cleanly and every process of the group is gone, without a SIGKILL.
      await exited;
      const deadline = Date.now() + 30_000;
      while (groupAlive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const lingered = groupAlive();
      if (lingered) signalGroup('SIGKILL');
      return { lingered, output };
    },
  };
}

async function queryThroughPrintedSettings(env: Record<string, string>): Promise<unknown[]> {
  for (const k of ['QUANTASEAL_URL', 'QUANTASEAL_API_KEY', 'QUANTASEAL_INTEGRATION_ID', 'QUANTASEAL_CLIENT_KEYS']) {
    if (!env[k]) throw new Error(`npm start did not print ${k}`);
  }
  // The clone's own build, as an app that installed the package would import it.
  const { QsPool } = (await import(pathToFileURL(path.join(clone, 'dist/index.js')).href)) as typeof Quantaseal;
  const pool = new QsPool({ url: env.QUANTASEAL_URL, apiKey: env.QUANTASEAL_API_KEY, integrationId: env.QUANTASEAL_INTEGRATION_ID, clientKeys: env.QUANTASEAL_CLIENT_KEYS });
  try {
    const { rows } = await pool.query('SELECT email, plan FROM qs_demo_customers WHERE email = $1', ['ada@example.com']);
    return rows;
  } finally {
    await pool.end();
  }
}

async function scenario(name: string, extraEnv: Record<string, string>, expectReuse: boolean): Promise<void> {
  const started = Date.now();
  const dev = await startDev(extraEnv);
  let rows: unknown[];
  try {
    rows = await queryThroughPrintedSettings(dev.env);
  } catch (err) {
    const { output } = await dev.stop();
    throw new Error(`${name}: query failed: ${(err as Error).message}\n${output.slice(-3000)}`);
  }
  const { lingered, output } = await dev.stop();
  const problems: string[] = [];
  if (JSON.stringify(rows) !== JSON.stringify([{ email: 'ada@example.com', plan: 'enterprise' }])) problems.push(`unexpected rows ${JSON.stringify(rows)}`);
  if (lingered) problems.push('the server was still running 30 s after Ctrl-C');
  if (!output.includes('stopped cleanly')) problems.push('no clean-shutdown line');
  if (!/envelope req_\S+ ✓ verified · audit aud_/.test(output)) problems.push('demo did not print verified envelope and audit ids');
  if (expectReuse !== output.includes('(reusing)')) problems.push(expectReuse ? 'state was not reused' : 'unexpected reuse');
  if (problems.length > 0) throw new Error(`${name}: ${problems.join('; ')}\n${output.slice(-3000)}`);
  log(`${name}: ready on ${dev.url}, query ok, clean stop (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

try {
  run('git', ['clone', '-q', repo, clone], work);
  run('npm', ['ci', '--no-audit', '--no-fund'], clone);
  await scenario('npm start, no environment (embedded PGlite)', {}, false);
  await scenario('second npm start reuses the state', {}, true);
  rmSync(path.join(clone, '.quantaseal'), { recursive: true, force: true });
  await scenario('npm start with DATABASE_URL (local PostgreSQL)', { DATABASE_URL: databaseUrl }, false);
  log('3 passed, 0 failed');
} catch (err) {
  console.error(`first-run: FAILED: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
