import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl } from '../helpers/pg.js';
import { startTestServer, type TestServer } from '../helpers/proxy-server.js';

const execFileP = promisify(execFile);
const MAIN = path.resolve('src/cli/main.ts');
let server: TestServer;

/** Runs the real CLI in its own process; resolves with its output, or with the failure's. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileP(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, QUANTASEAL_API_KEY: '', ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.dispose());

describe('quantaseal CLI against a running server', () => {
  it('init --json, then seal, integrations create/update/list, rotate and audit tail with the printed key', async () => {
    const common = ['--url', server.url, '--data-dir', server.dataDir];
    const keysOut = path.join(server.dataDir, 'cli-keys.json');
    const init = await cli(['init', ...common, '--dsn', databaseUrl(), '--allow', 'query,execute', '--keys-out', keysOut, '--json']);
    expect(init.code, init.stderr).toBe(0);
    const r = JSON.parse(init.stdout) as Record<string, string>;
    expect(Object.keys(r).sort()).toEqual(['api_key', 'client_keys_path', 'credential_id', 'integration_id', 'tenant_id', 'url', 'warnings']);
    expect(statSync(keysOut).mode & 0o777).toBe(0o600);
    const asTenant = { QUANTASEAL_API_KEY: r.api_key! };

    const seal = await cli(['seal', '--url', server.url, '--dsn', databaseUrl(), '--json'], asTenant);
    expect(seal.code, seal.stderr).toBe(0);
    const credentialId = (JSON.parse(seal.stdout) as { credential_id: string }).credential_id;

    const created = await cli(['integrations', 'create', '--url', server.url, '--credential', credentialId, '--allow', 'query', '--json'], asTenant);
    expect(created.code, created.stderr).toBe(0);
    const integrationId = (JSON.parse(created.stdout) as { integration_id: string }).integration_id;
    const updated = await cli(['integrations', 'update', integrationId, '--url', server.url, '--allow', 'query,transaction', '--json'], asTenant);
    expect(JSON.parse(updated.stdout)).toMatchObject({ allowed_operations: ['query', 'transaction'] });
    const list = await cli(['integrations', 'list', '--url', server.url], asTenant);
    expect(list.stdout).toContain(integrationId);

    const rotated = await cli(['rotate', credentialId, '--url', server.url, '--dsn', databaseUrl(), '--json'], asTenant);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ credential_id: credentialId, version: 2 });

    const tail = await cli(['audit', 'tail', '--url', server.url, '--limit', '50'], asTenant);
    expect(tail.code).toBe(0);
    expect(tail.stdout).toContain('POST /api/v2/vault/rotate/:credential_id');
  });

  it('fails with a stable code, and without echoing secrets, on bad input', async () => {
    const noKey = await cli(['seal', '--url', server.url, '--dsn', 'postgres://u:hunter2@db/x']);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('QS_CONFIG');
    const badDsn = await cli(['seal', '--url', server.url, '--dsn', 'mysql://u:hunter2@db/x', '--api-key', 'qs_live_' + 'x'.repeat(43)]);
    expect(badDsn.stderr).toMatch(/QS_UNAUTHENTICATED/);
    const badOp = await cli(['init', '--url', server.url, '--data-dir', server.dataDir, '--dsn', databaseUrl(), '--allow', 'query,nuke']);
    expect(badOp.stderr).toContain('QS_UNKNOWN_OPERATION');
    const unknownFlag = await cli(['serve', '--prot', '1']);
    expect(unknownFlag.code).toBe(1);
    expect(unknownFlag.stderr).toContain('QS_CONFIG');
    const unreachable = await cli(['tenants', 'create', '--name', 'x', '--url', 'http://127.0.0.1:1', '--admin-token', 'qs_admin_x']);
    expect(unreachable.stderr).toContain('QS_TRANSPORT');
    for (const r of [noKey, badDsn, badOp, unknownFlag, unreachable]) expect(r.stderr).not.toContain('hunter2');
  });
});
