import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/protocol/ids.js';
import { verifyChain } from '../../src/server/audit/audit-chain.js';
import { AuditWriter } from '../../src/server/audit/audit-writer.js';
import { openStore } from '../../src/server/store/open-store.js';
import type { AuditEventInput, Store } from '../../src/server/store/store.js';

const dir = mkdtempSync(path.join(tmpdir(), 'qs-audit-'));
let store: Store;
beforeAll(async () => {
  store = await openStore(`sqlite:${path.join(dir, 'a.db')}`);
  for (const id of ['ten_A', 'ten_B']) await store.createTenant({ id, name: id, createdAt: new Date().toISOString() });
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const event = (tenantId: string, over: Partial<AuditEventInput> = {}): AuditEventInput => ({
  id: newId('audit'),
  tenantId,
  ts: new Date().toISOString(),
  integrationId: null,
  operation: 'query',
  apiKeyId: null,
  requestId: 'req_1',
  route: 'POST /api/v2/proxy/outbound',
  fingerprint: null,
  outcome: 'allowed',
  sqlstate: null,
  qsCode: null,
  rowCount: 1,
  durationMs: 1,
  ...over,
});

describe('AuditWriter', () => {
  it('commits a burst in few batches, every event durable and chained', async () => {
    const writer = new AuditWriter(store);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => writer.append(event(i % 2 ? 'ten_A' : 'ten_B'))));
    expect(new Set(results.map((r) => r.id)).size).toBe(50);
    for (const t of ['ten_A', 'ten_B']) expect((await verifyChain(store.readAuditChain(t))).break).toBeNull();
  });

  it('events appended one by one within a turn of the event loop share one commit', async () => {
    const batches: number[] = [];
    const counting = new Proxy(store, {
      get: (target, prop, receiver) =>
        prop === 'appendAuditEvents'
          ? (events: AuditEventInput[], hasher: never) => (batches.push(events.length), target.appendAuditEvents(events, hasher))
          : Reflect.get(target, prop, receiver),
    });
    const writer = new AuditWriter(counting);
    // Appended across separate microtasks, as requests reach the audit step one after another.
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 6; i++) {
      pending.push(writer.append(event('ten_A')));
      await Promise.resolve();
    }
    await Promise.all(pending);
    expect(batches).toEqual([6]);
  });

  it('one bad event does not fail the other events of its batch', async () => {
    const writer = new AuditWriter(store);
    const existing = await writer.append(event('ten_A'));
    // Same id again: the store refuses it (a conflict), which fails the batch it is in.
    const outcomes = await Promise.allSettled([writer.append(event('ten_B')), writer.append({ ...event('ten_A'), id: existing.id }), writer.append(event('ten_B')), writer.append(event('ten_A'))]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    for (const t of ['ten_A', 'ten_B']) expect((await verifyChain(store.readAuditChain(t))).break).toBeNull();
  });

  it('stores NUL-bearing text without failing', async () => {
    const writer = new AuditWriter(store);
    const r = await writer.append(event('ten_A', { requestId: 'x\u0000y' }));
    expect(r.requestId).toBe('x\uFFFDy');
  });
});

describe('SQLite audit writer thread', () => {
  it('commits off the event loop and chains exactly as the inline path does', async () => {
    const { SqliteStore } = await import('../../src/server/store/sqlite-store.js');
    const { auditHasher } = await import('../../src/server/audit/audit-chain.js');
    const threaded = await SqliteStore.open(path.join(dir, 'threaded.db'), { auditThread: true });
    const inline = await SqliteStore.open(path.join(dir, 'inline.db'), { auditThread: false });
    try {
      for (const s of [threaded, inline]) await s.createTenant({ id: 'ten_T', name: 't', createdAt: '2026-01-01T00:00:00.000Z' });
      const batch = Array.from({ length: 5 }, (_, i) => event('ten_T', { id: `aud_${String(i).padStart(26, '0')}`, ts: '2026-01-01T00:00:00.000Z' }));
      const a = await threaded.appendAuditEvents(batch, auditHasher);
      const b = await inline.appendAuditEvents(batch, auditHasher);
      expect(a).toEqual(b);
      expect(threaded.auditWriter).toBe('thread');
      expect(inline.auditWriter).toBe('inline');
      expect(a.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
      // Committed by the other connection, visible to this one.
      expect((await threaded.listAuditEvents('ten_T', { limit: 10 })).map((r) => r.hash)).toEqual(a.map((r) => r.hash));
      // A conflict inside the thread comes back as the same stable error as inline.
      await expect(threaded.appendAuditEvents([batch[0]!, batch[1]!], auditHasher)).rejects.toMatchObject({ code: 'QS_CONFLICT' });
      // A lone event while the thread is idle commits on the store's own connection, same chain.
      const lone = await threaded.appendAuditEvents([event('ten_T', { ts: '2026-01-01T00:00:00.000Z' })], auditHasher);
      expect(lone[0]?.seq).toBe(6);
      expect(lone[0]?.prevHash).toBe(a[4]?.hash);
      await expect(inline.appendAuditEvents([batch[0]!], auditHasher)).rejects.toMatchObject({ code: 'QS_CONFLICT' });
    } finally {
      await threaded.close();
      await inline.close();
    }
  });
});
