#!/usr/bin/env node
import path from 'node:path';
import { isQsError, QsError } from '../protocol/errors.js';
import { OPERATIONS } from '../protocol/wire.js';
import { parseFlags, requireFlag } from './args.js';
import { callJson } from './http-json.js';
import { readAdminToken, runInit } from './commands-init.js';

const USAGE = `quantaseal — post-quantum security proxy for PostgreSQL

Usage:
  quantaseal dev                      the dev server with embedded store, keys and a demo (npm start)
  quantaseal serve [--port N] [--host H] [--data-dir D] [--store sqlite:PATH|postgres://…]
                   [--kms local|aws:ARN] [--tls-cert F --tls-key F] [--crypto-backend auto|noble|pqclean]
  quantaseal init --dsn DSN --allow query,execute,transaction [--url U] [--data-dir D]
                  [--admin-token T] [--name N] [--keys-out FILE] [--no-verify] [--json]
  quantaseal tenants create --name N [--url U] [--data-dir D] [--admin-token T]
  quantaseal seal --dsn DSN [--name N] [--verify]        (tenant rights: --api-key or QUANTASEAL_API_KEY)
  quantaseal rotate CREDENTIAL_ID --dsn DSN [--no-verify]
  quantaseal integrations list | create --credential ID --allow ops | update ID [--allow ops]
  quantaseal audit tail [--integration ID] [--limit N]
  quantaseal audit verify [--data-dir D | --store URL]   (or --url U --api-key K for one tenant)
  quantaseal admin rotate-token [--data-dir D]

Every command that talks to a server takes --url (default http://127.0.0.1:8080, or QUANTASEAL_URL).
`;

const common = {
  url: { type: 'string' },
  'data-dir': { type: 'string' },
  'admin-token': { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const urlOf = (v: string | undefined) => v ?? process.env.QUANTASEAL_URL ?? 'http://127.0.0.1:8080';
const dataDirOf = (v: string | undefined) => path.resolve(v ?? process.env.QS_DATA_DIR ?? '.quantaseal');
const apiKeyOf = (v: string | undefined) => {
  const key = v ?? process.env.QUANTASEAL_API_KEY;
  if (!key) throw new QsError('QS_CONFIG', 'this command needs tenant rights: pass --api-key or set QUANTASEAL_API_KEY');
  return key;
};
const parseAllow = (v: string | undefined) => {
  const ops = requireFlag(v, 'allow').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = ops.filter((o) => !(OPERATIONS as readonly string[]).includes(o));
  if (unknown.length > 0) throw new QsError('QS_UNKNOWN_OPERATION', `unknown operation(s): ${unknown.join(', ')} (known: ${OPERATIONS.join(', ')})`);
  return ops;
};
const print = (json: boolean | undefined, value: unknown, human: () => string) => console.log(json ? JSON.stringify(value, null, 2) : human());

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  switch (command) {
    case 'serve': {
      const { values: v } = parseFlags(rest, {
        ...common,
        port: { type: 'string' },
        host: { type: 'string' },
        store: { type: 'string' },
        kms: { type: 'string' },
        'aws-kms-endpoint': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'crypto-backend': { type: 'string' },
        'log-level': { type: 'string' },
      });
      const { serve } = await import('./commands-serve.js');
      return serve({
        port: v.port === undefined ? undefined : Number(v.port),
        host: v.host,
        dataDir: v['data-dir'],
        store: v.store,
        kms: v.kms,
        awsKmsEndpoint: v['aws-kms-endpoint'],
        tls: v['tls-cert'] && v['tls-key'] ? { cert: v['tls-cert'], key: v['tls-key'] } : undefined,
        cryptoBackend: v['crypto-backend'] as never,
        logLevel: v['log-level'],
      });
    }
    case 'dev': {
      const { values: v } = parseFlags(rest, { ...common, port: { type: 'string' }, 'no-demo': { type: 'boolean' } });
      const { runDev } = await import('./commands-dev.js');
      return runDev({ dataDir: dataDirOf(v['data-dir']), port: v.port === undefined ? 8080 : Number(v.port), demo: v['no-demo'] !== true });
    }
    case 'init': {
      const { values: v } = parseFlags(rest, {
        ...common,
        dsn: { type: 'string' },
        allow: { type: 'string' },
        name: { type: 'string' },
        'keys-out': { type: 'string' },
        'no-verify': { type: 'boolean' },
        tokenize: { type: 'string' },
      });
      const dataDir = dataDirOf(v['data-dir']);
      const result = await runInit({
        url: urlOf(v.url),
        adminToken: readAdminToken(v['admin-token'], dataDir),
        dsn: requireFlag(v.dsn, 'dsn'),
        allow: parseAllow(v.allow),
        tenantName: v.name ?? 'default',
        keysOut: v['keys-out'] ?? path.join(dataDir, 'client-keys.json'),
        tokenization: v.tokenize === undefined ? undefined : JSON.parse(v.tokenize),
        verify: v['no-verify'] ? false : undefined,
      });
      print(v.json, result, () =>
        [
          `Tenant ${result.tenant_id} is ready.`,
          `  integration  ${result.integration_id}`,
          `  credential   ${result.credential_id}`,
          `  client keys  ${result.client_keys_path} (mode 0600)`,
          ...result.warnings.map((w) => `  warning: ${w}`),
          '',
          'Put these in your app\'s environment (the API key is shown only now):',
          `  QUANTASEAL_URL=${result.url}`,
          `  QUANTASEAL_API_KEY=${result.api_key}`,
          `  QUANTASEAL_INTEGRATION_ID=${result.integration_id}`,
          `  QUANTASEAL_CLIENT_KEYS=${result.client_keys_path}`,
        ].join('\n'),
      );
      return 0;
    }
    case 'tenants': {
      const [sub, ...more] = rest;
      if (sub !== 'create') throw new QsError('QS_CONFIG', 'usage: quantaseal tenants create --name N');
      const { values: v } = parseFlags(more, { ...common, name: { type: 'string' } });
      const out = await callJson<{ tenant_id: string; api_key: string; api_key_id: string }>(
        { url: urlOf(v.url), adminToken: readAdminToken(v['admin-token'], dataDirOf(v['data-dir'])) },
        'POST',
        '/api/v2/admin/tenants',
        { name: requireFlag(v.name, 'name') },
      );
      print(v.json, out, () => `tenant ${out.tenant_id}\napi key ${out.api_key} (shown once; id ${out.api_key_id})`);
      return 0;
    }
    case 'seal': {
      const { values: v } = parseFlags(rest, { ...common, dsn: { type: 'string' }, name: { type: 'string' }, verify: { type: 'boolean' } });
      const out = await callJson<{ credential_id: string; version: number; warnings: string[] }>(
        { url: urlOf(v.url), apiKey: apiKeyOf(v['api-key']) },
        'POST',
        '/api/v2/vault/seal',
        { credential_type: 'database_dsn', values: { dsn: requireFlag(v.dsn, 'dsn') }, ...(v.name ? { name: v.name } : {}), ...(v.verify ? { verify: true } : {}) },
      );
      print(v.json, out, () => [`sealed ${out.credential_id} v${out.version}`, ...out.warnings.map((w) => `warning: ${w}`)].join('\n'));
      return 0;
    }
    case 'rotate': {
      const { values: v, positionals } = parseFlags(rest, { ...common, dsn: { type: 'string' }, 'no-verify': { type: 'boolean' } });
      const id = requireFlag(positionals[0], 'credential id (positional)');
      const out = await callJson<{ credential_id: string; version: number; warnings: string[] }>(
        { url: urlOf(v.url), apiKey: apiKeyOf(v['api-key']) },
        'POST',
        `/api/v2/vault/rotate/${encodeURIComponent(id)}`,
        { values: { dsn: requireFlag(v.dsn, 'dsn') }, ...(v['no-verify'] ? { verify: false } : {}) },
      );
      print(v.json, out, () => [`rotated ${out.credential_id}: version ${out.version} is current`, ...out.warnings.map((w) => `warning: ${w}`)].join('\n'));
      return 0;
    }
    case 'integrations': {
      const [sub, ...more] = rest;
      const { values: v, positionals } = parseFlags(more, { ...common, credential: { type: 'string' }, allow: { type: 'string' }, name: { type: 'string' }, tokenize: { type: 'string' } });
      const opts = { url: urlOf(v.url), apiKey: apiKeyOf(v['api-key']) };
      if (sub === 'list') {
        const out = await callJson<{ integrations: Array<{ integration_id: string; allowed_operations: string[]; credential_id: string }> }>(opts, 'GET', '/api/v2/integrations');
        print(v.json, out, () => out.integrations.map((i) => `${i.integration_id}  ${i.credential_id}  [${i.allowed_operations.join(', ')}]`).join('\n') || '(none)');
        return 0;
      }
      if (sub === 'create') {
        const out = await callJson<{ integration_id: string }>(opts, 'POST', '/api/v2/integrations', {
          system_type: 'postgres',
          credential_id: requireFlag(v.credential, 'credential'),
          allowed_operations: parseAllow(v.allow),
          ...(v.name ? { name: v.name } : {}),
          ...(v.tokenize ? { tokenization: JSON.parse(v.tokenize) } : {}),
        });
        print(v.json, out, () => `created ${out.integration_id}`);
        return 0;
      }
      if (sub === 'update') {
        const id = requireFlag(positionals[0], 'integration id (positional)');
        const patch: Record<string, unknown> = {};
        if (v.allow !== undefined) patch.allowed_operations = v.allow === '' ? [] : parseAllow(v.allow);
        if (v.name !== undefined) patch.name = v.name;
        if (v.tokenize !== undefined) patch.tokenization = JSON.parse(v.tokenize);
        const out = await callJson(opts, 'PATCH', `/api/v2/integrations/${encodeURIComponent(id)}`, patch);
        print(v.json, out, () => `updated ${id}`);
        return 0;
      }
      throw new QsError('QS_CONFIG', 'usage: quantaseal integrations list|create|update');
    }
    case 'audit': {
      const [sub, ...more] = rest;
      const { values: v } = parseFlags(more, { ...common, integration: { type: 'string' }, limit: { type: 'string' }, store: { type: 'string' } });
      if (sub === 'tail') {
        const q = new URLSearchParams();
        if (v.integration) q.set('integration_id', v.integration);
        q.set('limit', v.limit ?? '20');
        const out = await callJson<{ events: Array<Record<string, unknown>> }>({ url: urlOf(v.url), apiKey: apiKeyOf(v['api-key']) }, 'GET', `/api/v2/audit?${q}`);
        print(v.json, out, () => out.events.map((e) => `${String(e.seq).padStart(6)} ${e.ts} ${e.outcome} ${e.operation ?? e.route} ${e.qs_code ?? e.sqlstate ?? ''} ${e.audit_event_id}`).join('\n') || '(no events)');
        return 0;
      }
      if (sub === 'verify') {
        const { verifyAudit } = await import('./commands-audit-verify.js');
        return verifyAudit({ dataDir: dataDirOf(v['data-dir']), store: v.store, url: v.url, apiKey: v['api-key'], json: v.json });
      }
      throw new QsError('QS_CONFIG', 'usage: quantaseal audit tail|verify');
    }
    case 'admin': {
      const [sub, ...more] = rest;
      if (sub !== 'rotate-token') throw new QsError('QS_CONFIG', 'usage: quantaseal admin rotate-token [--data-dir D]');
      const { values: v } = parseFlags(more, common);
      const { loadOrCreateAdminToken } = await import('../server/http/admin-token.js');
      loadOrCreateAdminToken(dataDirOf(v['data-dir']), true);
      console.log(`a new admin token is in ${path.join(dataDirOf(v['data-dir']), 'admin.token')}; restart the server to use it`);
      return 0;
    }
    default:
      console.error(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (isQsError(err)) console.error(`error ${err.code}: ${err.message}`);
    else console.error(`error: ${(err as Error).message}`);
    process.exitCode = 1;
    // A half-started server (a busy port, a bad data dir) may leave handles open; a failed CLI
    // command must still end. The timer is unref'd, so a clean exit never waits for it.
    setTimeout(() => process.exit(), 2000).unref();
  },
);
