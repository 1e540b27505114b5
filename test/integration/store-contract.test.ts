import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/protocol/ids.js';
import { openStore } from '../../src/server/store/open-store.js';
import { PostgresStore } from '../../src/server/store/postgres-store.js';
import { SqliteStore } from '../../src/server/store/sqlite-store.js';
import type {
  AuditEventInput,
  AuditEventRecord,
  AuditHasher,
  ChangeNotice,
  CredentialRecord,
  IntegrationRecord,
  Store,
} from '../../src/server/store/store.js';
import { databaseUrl, dropSchema, tempSchemaName } from '../helpers/pg.js';

/** Where one implementation keeps its data; `open` may be called several times (reopen, two nodes). */
interface StoreEnv {
  open(): Promise<Store>;
  cleanup(): Promise<void>;
  /** Whether a notice published by one instance reaches another instance's onChange. */
  crossInstance: boolean;
}

const STORES: Array<[string, () => StoreEnv]> = [
  [
    'SqliteStore',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'qs-store-'));
      return {
        open: () => SqliteStore.open(join(dir, 'nested', 'store.db')),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
        crossInstance: false,
      };
    },
  ],
  [
    'PostgresStore',
    () => {
      const schema = tempSchemaName();
      return {
        open: () => PostgresStore.open({ url: databaseUrl(), schema, max: 4 }),
        cleanup: () => dropSchema(schema),
        crossInstance: true,
      };
    },
  ],
];

const GENESIS = '0'.repeat(64);

/** A deterministic chain hash over every field, so verification below can recompute it. */
const hasher: AuditHasher = (prevHash, event) => {
  const fields = Object.entries(event).sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(prevHash).update(JSON.stringify(fields)).digest('hex');
};

const now = (): string => new Date().toISOString();
/** Plain Uint8Array (not Buffer): the stores hand back plain arrays and toEqual tells them apart. */
const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

function auditEvent(tenantId: string, extra: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    id: newId('audit'),
    tenantId,
    ts: now(),
    integrationId: null,
    operation: 'query',
    apiKeyId: 'key_X',
    requestId: newId('request'),
    route: '/api/v2/query',
    fingerprint: 'a0b1c2d3e4f5',
    outcome: 'allowed',
    sqlstate: null,
    qsCode: null,
    rowCount: 3,
    durationMs: 1.25,
    ...extra,
  };
}

function credential(tenantId: string, id: string, version: number, status: CredentialRecord['status']): CredentialRecord {
  return {
    id,
    tenantId,
    version,
    name: `db v${version}`,
    credentialType: 'database_dsn',
    status,
    sealed: bytes(48),
    createdAt: now(),
    deletedAt: null,
  };
}

function integration(tenantId: string, credentialId: string): IntegrationRecord {
  return {
    id: newId('integration'),
    tenantId,
    name: 'orders',
    systemType: 'postgres',
    credentialId,
    allowedOperations: ['query', 'execute'],
    tokenization: { fields: [{ schema: 'public', table: 'users', column: 'email', mode: 'deterministic', detokenize: true }] },
    limits: { max_rows: 1000, statement_timeout_ms: 5000 },
    createdAt: now(),
    updatedAt: now(),
  };
}

async function collect(chain: AsyncIterable<AuditEventRecord>): Promise<AuditEventRecord[]> {
  const out: AuditEventRecord[] = [];
  for await (const e of chain) out.push(e);
  return out;
}

/** Checks seq 1..n contiguous, genesis prevHash, each prevHash = previous hash, each hash recomputed. */
function expectIntactChain(chain: AuditEventRecord[], n: number): void {
  expect(chain.map((e) => e.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  let prev = GENESIS;
  for (const e of chain) {
    expect(e.prevHash).toBe(prev);
    const { seq, prevHash: _p, hash, ...input } = e;
    expect(hash).toBe(hasher(prev, { ...input, seq }));
    prev = hash;
  }
}

async function expectConflict(p: Promise<unknown>): Promise<void> {
  await expect(p).rejects.toMatchObject({ code: 'QS_CONFLICT' });
}

/** The Store contract: every implementation runs exactly these tests. */
function storeContract(makeEnv: () => StoreEnv): void {
  let env: StoreEnv;
  let store: Store;
  const extra: Store[] = [];
  let tenantA: string;
  let tenantB: string;

  beforeAll(async () => {
    env = makeEnv();
    store = await env.open();
    tenantA = newId('tenant');
    tenantB = newId('tenant');
    await store.createTenant({ id: tenantA, name: 'Tenant A', createdAt: now() });
    await store.createTenant({ id: tenantB, name: 'Tenant B', createdAt: now() });
  });

  afterAll(async () => {
    for (const s of [store, ...extra]) await s?.close();
    await env?.cleanup();
  });

  async function openAnother(): Promise<Store> {
    const s = await env.open();
    extra.push(s);
    return s;
  }

  it('pings', async () => {
    await store.ping();
  });

  it('creates, reads and lists tenants; a duplicate id is QS_CONFLICT', async () => {
    expect(await store.getTenant(tenantA)).toMatchObject({ id: tenantA, name: 'Tenant A' });
    expect(await store.getTenant(newId('tenant'))).toBeNull();
    const ids = (await store.listTenants()).map((t) => t.id);
    expect(ids).toEqual(expect.arrayContaining([tenantA, tenantB]));
    await expectConflict(store.createTenant({ id: tenantA, name: 'again', createdAt: now() }));
  });

  it('stores API keys by hash, per tenant, and revokes only the owner’s', async () => {
    const hash = randomBytes(32).toString('hex');
    const key = { id: newId('apiKey'), tenantId: tenantA, keyHash: hash, prefix: 'qs_test_AbC1', createdAt: now(), revokedAt: null };
    await store.createApiKey(key);
    expect(await store.findApiKeyByHash(hash)).toEqual(key);
    expect(await store.findApiKeyByHash(randomBytes(32).toString('hex'))).toBeNull();
    expect((await store.listApiKeys(tenantA)).map((k) => k.id)).toContain(key.id);
    expect((await store.listApiKeys(tenantB)).map((k) => k.id)).not.toContain(key.id);
    await expectConflict(store.createApiKey({ ...key, id: newId('apiKey') }));

    expect(await store.revokeApiKey(tenantB, key.id, now())).toBe(false);
    expect((await store.findApiKeyByHash(hash))?.revokedAt).toBeNull();
    const at = now();
    expect(await store.revokeApiKey(tenantA, key.id, at)).toBe(true);
    expect((await store.findApiKeyByHash(hash))?.revokedAt).toBe(at);
    expect(await store.revokeApiKey(tenantA, newId('apiKey'), now())).toBe(false);
  });

  it('keeps one active signing key: the first ensureSigningKey wins, also across two instances', async () => {
    expect(await store.getActiveSigningKey()).toBeNull();
    const other = await openAnother();
    const make = (): Parameters<Store['ensureSigningKey']>[0] => ({
      keyId: `sk_${randomBytes(6).toString('hex')}`,
      publicKey: bytes(1952),
      wrappedSecret: bytes(69),
      createdAt: now(),
      active: true,
    });
    const [k1, k2] = [make(), make()];
    const [r1, r2] = await Promise.all([store.ensureSigningKey(k1), other.ensureSigningKey(k2)]);
    expect(r1.keyId).toBe(r2.keyId);
    const winner = r1.keyId === k1.keyId ? k1 : k2;
    expect(r1).toEqual(winner);
    expect(r1.publicKey).toBeInstanceOf(Uint8Array);
    expect(await store.getActiveSigningKey()).toEqual(winner);
    expect(await store.ensureSigningKey(make())).toEqual(winner);
    expect(await store.listSigningKeys()).toEqual([winner]);
  });

  it('ensureTenantKey stores one key per (tenant, purpose), first writer wins', async () => {
    const other = extra[0] ?? (await openAnother());
    const make = (purpose: 'vault' | 'token', pk: boolean): Parameters<Store['ensureTenantKey']>[0] => ({
      tenantId: tenantA,
      purpose,
      keyId: `tk_${randomBytes(6).toString('hex')}`,
      publicKey: pk ? bytes(1184) : null,
      wrappedSecret: bytes(101),
      createdAt: now(),
    });
    const [v1, v2] = [make('vault', true), make('vault', true)];
    const [r1, r2] = await Promise.all([store.ensureTenantKey(v1), other.ensureTenantKey(v2)]);
    expect(r1).toEqual(r2);
    expect([v1.keyId, v2.keyId]).toContain(r1.keyId);
    const token = make('token', false);
    expect(await store.ensureTenantKey(token)).toEqual(token);
    expect(await store.getTenantKey(tenantA, 'token')).toEqual(token);
    expect(await store.getTenantKey(tenantA, 'vault')).toEqual(r1);
    expect(await store.getTenantKey(tenantB, 'vault')).toBeNull();
  });

  it('puts, replaces and isolates recipient keys', async () => {
    const rk = { tenantId: tenantA, keyId: `rk_${randomBytes(6).toString('hex')}`, publicKey: bytes(1184), createdAt: now(), revokedAt: null };
    await store.putRecipientKey(rk);
    expect(await store.getRecipientKey(tenantA, rk.keyId)).toEqual(rk);
    expect(await store.getRecipientKey(tenantB, rk.keyId)).toBeNull();
    expect(await store.listRecipientKeys(tenantB)).toEqual([]);
    const revoked = { ...rk, revokedAt: now() };
    await store.putRecipientKey(revoked);
    expect(await store.getRecipientKey(tenantA, rk.keyId)).toEqual(revoked);
    expect(await store.listRecipientKeys(tenantA)).toEqual([revoked]);
  });

  it('versions credentials: current, pending, promotion, status, deletion', async () => {
    const id = newId('credential');
    const v1 = credential(tenantA, id, 1, 'current');
    const v2 = credential(tenantA, id, 2, 'pending');
    await store.insertCredentialVersion(v1);
    await store.insertCredentialVersion(v2);
    await expectConflict(store.insertCredentialVersion(credential(tenantA, id, 2, 'pending')));

    expect(await store.getCurrentCredential(tenantA, id)).toEqual(v1);
    expect(await store.listCredentialVersions(tenantA, id)).toEqual([v1, v2]);
    expect((await store.listCredentials(tenantA)).filter((c) => c.id === id)).toEqual([v2]);

    expect(await store.promoteCredentialVersion(tenantA, id, 7)).toBe(false);
    expect(await store.promoteCredentialVersion(tenantA, id, 2)).toBe(true);
    expect((await store.listCredentialVersions(tenantA, id)).map((c) => [c.version, c.status])).toEqual([
      [1, 'retired'],
      [2, 'current'],
    ]);
    expect((await store.getCurrentCredential(tenantA, id))?.version).toBe(2);

    // A third version: pending, then promoted; every other version retires, including pending ones.
    await store.insertCredentialVersion(credential(tenantA, id, 3, 'pending'));
    await store.insertCredentialVersion(credential(tenantA, id, 4, 'pending'));
    expect(await store.setCredentialVersionStatus(tenantA, id, 4, 'retired')).toBe(true);
    expect(await store.promoteCredentialVersion(tenantA, id, 3)).toBe(true);
    expect((await store.listCredentialVersions(tenantA, id)).map((c) => c.status)).toEqual(['retired', 'retired', 'current', 'retired']);
    expect(await store.setCredentialVersionStatus(tenantA, id, 9, 'retired')).toBe(false);

    const second = newId('credential');
    await store.insertCredentialVersion(credential(tenantA, second, 1, 'current'));
    expect((await store.listCredentials(tenantA)).map((c) => [c.id, c.version])).toEqual(
      expect.arrayContaining([
        [id, 4],
        [second, 1],
      ]),
    );

    expect(await store.deleteCredential(tenantA, id, now())).toBe(true);
    expect(await store.getCurrentCredential(tenantA, id)).toBeNull();
    expect((await store.listCredentials(tenantA)).map((c) => c.id)).not.toContain(id);
    expect(await store.deleteCredential(tenantA, id, now())).toBe(false);
    expect(await store.promoteCredentialVersion(tenantA, id, 3)).toBe(false);
    expect((await store.listCredentialVersions(tenantA, id)).every((c) => c.deletedAt !== null)).toBe(true);
  });

  it("never hands tenant B tenant A's credentials", async () => {
    const id = newId('credential');
    await store.insertCredentialVersion(credential(tenantA, id, 1, 'current'));
    await store.insertCredentialVersion(credential(tenantA, id, 2, 'pending'));
    expect(await store.getCurrentCredential(tenantB, id)).toBeNull();
    expect(await store.listCredentialVersions(tenantB, id)).toEqual([]);
    expect((await store.listCredentials(tenantB)).map((c) => c.id)).not.toContain(id);
    expect(await store.promoteCredentialVersion(tenantB, id, 2)).toBe(false);
    expect(await store.setCredentialVersionStatus(tenantB, id, 1, 'retired')).toBe(false);
    expect(await store.deleteCredential(tenantB, id, now())).toBe(false);
    expect((await store.getCurrentCredential(tenantA, id))?.version).toBe(1);
  });

  it('creates, updates, counts and deletes integrations per tenant', async () => {
    const credId = newId('credential');
    const i = integration(tenantA, credId);
    await store.createIntegration(i);
    await expectConflict(store.createIntegration(i));
    expect(await store.getIntegration(tenantA, i.id)).toEqual(i);
    expect(await store.getIntegration(tenantB, i.id)).toBeNull();
    expect((await store.listIntegrations(tenantA)).map((x) => x.id)).toContain(i.id);
    expect((await store.listIntegrations(tenantB)).map((x) => x.id)).not.toContain(i.id);
    expect(await store.countIntegrationsUsingCredential(tenantA, credId)).toBe(1);
    expect(await store.countIntegrationsUsingCredential(tenantB, credId)).toBe(0);

    const updated: IntegrationRecord = { ...i, name: null, allowedOperations: ['query'], limits: {}, tokenization: { fields: [] }, updatedAt: now() };
    expect(await store.updateIntegration({ ...updated, tenantId: tenantB })).toBe(false);
    expect(await store.updateIntegration(updated)).toBe(true);
    expect(await store.getIntegration(tenantA, i.id)).toEqual(updated);

    expect(await store.deleteIntegration(tenantB, i.id)).toBe(false);
    expect(await store.deleteIntegration(tenantA, i.id)).toBe(true);
    expect(await store.getIntegration(tenantA, i.id)).toBeNull();
    expect(await store.deleteIntegration(tenantA, i.id)).toBe(false);
    expect(await store.countIntegrationsUsingCredential(tenantA, credId)).toBe(0);
  });

  describe('audit chain', () => {
    let tenant: string;
    let other: string;
    beforeAll(() => {
      tenant = newId('tenant');
      other = newId('tenant');
    });

    it('assigns seq per tenant and links prevHash to the previous hash, across batches', async () => {
      expect(await store.appendAuditEvents([], hasher)).toEqual([]);
      const batch = [auditEvent(tenant, { integrationId: 'int_1' }), auditEvent(other), auditEvent(tenant, { integrationId: 'int_2', rowCount: null })];
      const out = await store.appendAuditEvents(batch, hasher);
      expect(out.map((e) => [e.tenantId, e.seq])).toEqual([
        [tenant, 1],
        [other, 1],
        [tenant, 2],
      ]);
      expect(out[0]?.prevHash).toBe(GENESIS);
      expect(out[1]?.prevHash).toBe(GENESIS);
      expect(out[2]?.prevHash).toBe(out[0]?.hash);
      expect(out[0]).toMatchObject(batch[0] as AuditEventInput);

      const next = await store.appendAuditEvents(
        [auditEvent(tenant, { integrationId: 'int_1', outcome: 'denied', qsCode: 'QS_OPERATION_DENIED', sqlstate: '42501' })],
        hasher,
      );
      expect(next[0]?.seq).toBe(3);
      expect(next[0]?.prevHash).toBe(out[2]?.hash);

      const chain = await collect(store.readAuditChain(tenant));
      expectIntactChain(chain, 3);
      expect(chain[2]).toEqual(next[0]);
      expectIntactChain(await collect(store.readAuditChain(other)), 1);
      expect(await collect(store.readAuditChain(newId('tenant')))).toEqual([]);
    });

    it('lists events by integration and afterSeq, ascending, with a limit', async () => {
      expect((await store.listAuditEvents(tenant, { limit: 10 })).map((e) => e.seq)).toEqual([1, 2, 3]);
      expect((await store.listAuditEvents(tenant, { limit: 2 })).map((e) => e.seq)).toEqual([1, 2]);
      expect((await store.listAuditEvents(tenant, { afterSeq: 1, limit: 10 })).map((e) => e.seq)).toEqual([2, 3]);
      expect((await store.listAuditEvents(tenant, { integrationId: 'int_1', limit: 10 })).map((e) => e.seq)).toEqual([1, 3]);
      expect((await store.listAuditEvents(tenant, { integrationId: 'int_1', afterSeq: 1, limit: 10 })).map((e) => e.seq)).toEqual([3]);
      expect(await store.listAuditEvents(tenantB, { limit: 10 })).toEqual([]);
    });

    it('appends a batch atomically: a failure leaves neither events nor a moved head', async () => {
      const before = await collect(store.readAuditChain(tenant));
      const dupId = before[0]?.id as string;
      await expect(store.appendAuditEvents([auditEvent(tenant), auditEvent(tenant, { id: dupId })], hasher)).rejects.toMatchObject({
        code: 'QS_CONFLICT',
      });
      let calls = 0;
      const failing: AuditHasher = (p, e) => {
        if (++calls === 2) throw new Error('hasher failed');
        return hasher(p, e);
      };
      await expect(store.appendAuditEvents([auditEvent(tenant), auditEvent(tenant)], failing)).rejects.toThrow('hasher failed');
      expect(await collect(store.readAuditChain(tenant))).toEqual(before);
      const [after] = await store.appendAuditEvents([auditEvent(tenant)], hasher);
      expect(after?.seq).toBe(before.length + 1);
      expect(after?.prevHash).toBe(before.at(-1)?.hash);
    });

    it('streams a chain longer than one page in seq order', async () => {
      const t = newId('tenant');
      const events = Array.from({ length: 2100 }, () => auditEvent(t));
      await store.appendAuditEvents(events.slice(0, 1500), hasher);
      await store.appendAuditEvents(events.slice(1500), hasher);
      expectIntactChain(await collect(store.readAuditChain(t)), 2100);
    });

    it('never forks a chain when two instances append concurrently (2 × 20)', async () => {
      const t = newId('tenant');
      const second = await openAnother();
      const appends = [store, second].flatMap((s) => Array.from({ length: 20 }, () => s.appendAuditEvents([auditEvent(t)], hasher)));
      const results = (await Promise.all(appends)).flat();
      expect(new Set(results.map((r) => r.seq)).size).toBe(40);
      expectIntactChain(await collect(store.readAuditChain(t)), 40);
    });
  });

  it('keeps random-mode tokens per tenant', async () => {
    const token = `tok_${randomBytes(8).toString('hex')}`;
    const ct = bytes(40);
    await store.putToken({ tenantId: tenantA, token, ciphertext: ct, createdAt: now() });
    await expectConflict(store.putToken({ tenantId: tenantA, token, ciphertext: bytes(40), createdAt: now() }));
    const found = await store.getTokens(tenantA, [token, 'tok_unknown', token]);
    expect([...found.keys()]).toEqual([token]);
    expect(found.get(token)).toEqual(ct);
    expect((await store.getTokens(tenantB, [token])).size).toBe(0);
    expect((await store.getTokens(tenantA, [])).size).toBe(0);
    // More tokens than one IN list / array chunk holds.
    const many = Array.from({ length: 1200 }, (_, i) => `tok_many_${i}`);
    for (const tk of many.slice(0, 3)) await store.putToken({ tenantId: tenantA, token: tk, ciphertext: bytes(8), createdAt: now() });
    expect((await store.getTokens(tenantA, many)).size).toBe(3);
  });

  it('grants a request claim once per tenant and key until it expires; of concurrent claims exactly one wins', async () => {
    const key = `rerun:${randomBytes(32).toString('hex')}:0`;
    const t0 = 1_800_000_000_000;
    expect(await store.claimRequest(tenantA, key, t0 + 600_000, t0)).toBe(true);
    expect(await store.claimRequest(tenantA, key, t0 + 601_000, t0 + 1_000)).toBe(false);
    expect(await store.claimRequest(tenantB, key, t0 + 600_000, t0)).toBe(true);
    expect(await store.claimRequest(tenantA, `${key}1`, t0 + 600_000, t0)).toBe(true);
    // Still held a millisecond before it expires; free again once it has.
    expect(await store.claimRequest(tenantA, key, t0 + 1_200_000, t0 + 599_999)).toBe(false);
    expect(await store.claimRequest(tenantA, key, t0 + 1_200_000, t0 + 600_000)).toBe(true);
    expect(await store.claimRequest(tenantA, key, t0 + 1_300_000, t0 + 700_000)).toBe(false);
    const contested = `rerun:${randomBytes(32).toString('hex')}:3`;
    const wins = await Promise.all(Array.from({ length: 8 }, () => store.claimRequest(tenantA, contested, t0 + 600_000, t0)));
    expect(wins.filter(Boolean)).toHaveLength(1);
  });

  it('delivers change notices to subscribers, and stops after unsubscribe', async () => {
    const target = env.crossInstance ? extra[0] ?? (await openAnother()) : store;
    const received: ChangeNotice[] = [];
    const unsubscribe = target.onChange((n) => received.push(n));
    const notice: ChangeNotice = { topic: 'integration', id: newId('integration') };
    await store.publishChange(notice);
    await expect.poll(() => received, { timeout: 1000, interval: 20 }).toContainEqual(notice);
    unsubscribe();
    const later: ChangeNotice = { topic: 'api_key', id: newId('apiKey') };
    await store.publishChange(later);
    // The same channel delivers in order: once a marker arrives, `later` would have too.
    const marker: ChangeNotice = { topic: 'tenant', id: newId('tenant') };
    const seen: ChangeNotice[] = [];
    const off = target.onChange((n) => seen.push(n));
    await store.publishChange(marker);
    await expect.poll(() => seen, { timeout: 1000, interval: 20 }).toContainEqual(marker);
    off();
    expect(received).not.toContainEqual(later);
  });

  it('keeps everything across close and reopen', async () => {
    const t = newId('tenant');
    await store.createTenant({ id: t, name: 'durable', createdAt: now() });
    const [e1] = await store.appendAuditEvents([auditEvent(t)], hasher);
    await store.close();
    store = await env.open();
    expect(await store.getTenant(t)).toMatchObject({ id: t, name: 'durable' });
    expect(await store.getActiveSigningKey()).not.toBeNull();
    const [e2] = await store.appendAuditEvents([auditEvent(t)], hasher);
    expect(e2?.seq).toBe(2);
    expect(e2?.prevHash).toBe(e1?.hash);
  });

  it('applies migrations once when two instances open a fresh store at the same time', async () => {
    const fresh = makeEnv();
    try {
      const opened = await Promise.all([fresh.open(), fresh.open()]);
      await Promise.all(opened.map((s) => s.ping()));
      await Promise.all(opened.map((s) => s.close()));
    } finally {
      await fresh.cleanup();
    }
  });
}

for (const [name, makeEnv] of STORES) {
  describe(name, () => storeContract(makeEnv));
}

describe('PostgresStore request claims', () => {
  it('a request claimed through one node is refused through another sharing the store', async () => {
    const schema = tempSchemaName();
    const nodes = await Promise.all([0, 1].map(() => PostgresStore.open({ url: databaseUrl(), schema, max: 2 })));
    try {
      const key = `rerun:${randomBytes(32).toString('hex')}:0`;
      const t0 = 1_800_000_000_000;
      expect(await nodes[0]!.claimRequest('ten_shared', key, t0 + 600_000, t0)).toBe(true);
      expect(await nodes[1]!.claimRequest('ten_shared', key, t0 + 600_000, t0 + 5)).toBe(false);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
      await dropSchema(schema);
    }
  });
});

describe('PostgresStore LISTEN connection', () => {
  it('reconnects after the server drops it and keeps delivering notices', async () => {
    const schema = tempSchemaName();
    const a = await PostgresStore.open({ url: databaseUrl(), schema, max: 2 });
    const b = await PostgresStore.open({ url: databaseUrl(), schema, max: 2 });
    const admin = new pg.Client({ connectionString: databaseUrl() });
    await admin.connect();
    try {
      const received: ChangeNotice[] = [];
      b.onChange((n) => received.push(n));
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()`,
        [`LISTEN "${schema}_changes"`],
      );
      expect(killed.rowCount).toBe(2);
      // Publish until one arrives: notices sent while the listener is away are lost by design.
      const notice: ChangeNotice = { topic: 'credential', id: newId('credential') };
      await expect
        .poll(
          async () => {
            await a.publishChange(notice);
            return received;
          },
          { timeout: 5000, interval: 100 },
        )
        .toContainEqual(notice);
      // Notices sent while it was away are lost, so the reconnect itself tells every cache to start over.
      expect([...new Set(received.filter((n) => n.id === '*').map((n) => n.topic))].sort()).toEqual(['api_key', 'credential', 'integration', 'recipient_key', 'tenant']);
    } finally {
      await admin.end();
      await a.close();
      await b.close();
      await dropSchema(schema);
    }
  });
});

describe('openStore', () => {
  it('opens sqlite:PATH and postgres:// specs, and refuses anything else without echoing it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qs-open-'));
    const schema = tempSchemaName();
    try {
      const sqlite = await openStore(`sqlite:${join(dir, 'x.db')}`);
      expect(sqlite.kind).toBe('sqlite');
      await sqlite.close();
      const memory = await openStore('sqlite::memory:');
      await memory.ping();
      await memory.close();
      const pgStore = await openStore(databaseUrl(), { schema, listen: false, max: 2 });
      expect(pgStore.kind).toBe('postgres');
      await pgStore.ping();
      await pgStore.close();
      const bad = 'mysql://root:hunter2@db/x';
      const err: unknown = await openStore(bad).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'QS_CONFIG' });
      expect((err as Error).message).not.toContain('hunter2');
      await expect(openStore('sqlite:')).rejects.toMatchObject({ code: 'QS_CONFIG' });
      await expect(openStore(databaseUrl(), { schema: 'Bad-Name' })).rejects.toMatchObject({ code: 'QS_CONFIG' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await dropSchema(schema);
    }
  });
});
