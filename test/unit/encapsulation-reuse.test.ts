import { describe, expect, it } from 'vitest';
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { createNobleBackend } from '../../src/crypto/noble-backend.js';
import { DecapsulationCache } from '../../src/protocol/decapsulation-cache.js';
import { openEnvelope, type HybridCryptoEnvelope } from '../../src/protocol/envelope.js';
import { generateRecipientKeyPair } from '../../src/protocol/keys.js';
import { BatchSigner } from '../../src/server/signing/batch-signer.js';
import { DEFAULT_KEM_REUSE_MS, EncapsulationCache, kemReuseMs } from '../../src/server/signing/encapsulation-cache.js';
import { envelopeFixture } from '../helpers/envelope-fixture.js';

/** noble with every ML-KEM call counted. */
function kemSpy(inner: CryptoBackend = createNobleBackend()) {
  const calls = { encapsulate: 0, decapsulate: 0 };
  const backend: CryptoBackend = {
    ...inner,
    kemEncapsulate: (pk) => {
      calls.encapsulate++;
      return inner.kemEncapsulate(pk);
    },
    kemDecapsulate: (sk, ct) => {
      calls.decapsulate++;
      return inner.kemDecapsulate(sk, ct);
    },
  };
  return { backend, calls };
}

const noble = createNobleBackend();
const encapsulate = (pk: Uint8Array) => noble.kemEncapsulate(pk);

describe('QS_KEM_REUSE_MS', () => {
  it('defaults to one second, takes 0..60000, refuses anything else', () => {
    expect(kemReuseMs({})).toBe(DEFAULT_KEM_REUSE_MS);
    expect(DEFAULT_KEM_REUSE_MS).toBe(1000);
    expect(kemReuseMs({ QS_KEM_REUSE_MS: '0' })).toBe(0);
    expect(kemReuseMs({ QS_KEM_REUSE_MS: ' 250 ' })).toBe(250);
    for (const bad of ['-1', '1.5', 'soon', '60001', '1e9']) expect(() => kemReuseMs({ QS_KEM_REUSE_MS: bad })).toThrow('QS_KEM_REUSE_MS');
  });
});

describe('EncapsulationCache (server)', () => {
  it('reuses one encapsulation per tenant and recipient key within the window, then makes a new one', async () => {
    const recipient = await generateRecipientKeyPair(noble);
    let now = 1_000_000;
    let made = 0;
    const counting = (pk: Uint8Array) => (made++, encapsulate(pk));
    const cache = new EncapsulationCache({ reuseMs: 1000, now: () => now });
    const a = await cache.keyFor('ten_a', recipient, counting);
    const b = await cache.keyFor('ten_a', recipient, counting);
    expect(made).toBe(1);
    expect(Buffer.from(b.cipherText).equals(Buffer.from(a.cipherText))).toBe(true);
    expect(b.key.equals(a.key)).toBe(true);

    now += 999;
    await cache.keyFor('ten_a', recipient, counting);
    expect(made).toBe(1);
    now += 1;
    const c = await cache.keyFor('ten_a', recipient, counting);
    expect(made).toBe(2);
    expect(Buffer.from(c.cipherText).equals(Buffer.from(a.cipherText))).toBe(false);
    expect(c.key.equals(a.key)).toBe(false);
  });

  it('never shares a key between tenants or recipient keys, and the key depends on both', async () => {
    const r1 = await generateRecipientKeyPair(noble);
    const r2 = await generateRecipientKeyPair(noble);
    const cache = new EncapsulationCache({ reuseMs: 60_000 });
    const keys = [await cache.keyFor('ten_a', r1, encapsulate), await cache.keyFor('ten_b', r1, encapsulate), await cache.keyFor('ten_a', r2, encapsulate)];
    const distinct = new Set(keys.map((k) => k.key.toString('hex')));
    expect(distinct.size).toBe(3);
  });

  it('stops after maxUses envelopes, and reuseMs 0 encapsulates every time', async () => {
    const recipient = await generateRecipientKeyPair(noble);
    let made = 0;
    const counting = (pk: Uint8Array) => (made++, encapsulate(pk));
    const capped = new EncapsulationCache({ reuseMs: 60_000, maxUses: 3 });
    for (let i = 0; i < 7; i++) await capped.keyFor('ten_a', recipient, counting);
    expect(made).toBe(3); // uses 1-3, 4-6, 7

    made = 0;
    const off = new EncapsulationCache({ reuseMs: 0 });
    const cts = new Set<string>();
    for (let i = 0; i < 4; i++) cts.add(Buffer.from((await off.keyFor('ten_a', recipient, counting)).cipherText).toString('hex'));
    expect(made).toBe(4);
    expect(cts.size).toBe(4);
  });
});

describe('EncapsulationCache keys do not outlive their window', () => {
  it('a sweep drops and wipes expired entries; callers hold their own copies; dispose wipes the rest', async () => {
    const recipient = await generateRecipientKeyPair(noble);
    let now = 0;
    const cache = new EncapsulationCache({ reuseMs: 1000, now: () => now });
    try {
      const a = await cache.keyFor('ten_a', recipient, encapsulate);
      const b = await cache.keyFor('ten_b', recipient, encapsulate);
      const aCopy = Buffer.from(a.key);
      expect(cache.size).toBe(2);
      // The cached key is wiped in place when its entry goes, so peek at it through a second use.
      const aAgain = await cache.keyFor('ten_a', recipient, encapsulate);
      expect(aAgain.key).not.toBe(a.key);
      expect(aAgain.key.equals(a.key)).toBe(true);

      now = 500;
      cache.sweep();
      expect(cache.size).toBe(2);
      now = 1000;
      cache.sweep();
      expect(cache.size).toBe(0);
      // What callers were handed is theirs: the wipe did not reach it.
      expect(a.key.equals(aCopy)).toBe(true);
      expect(b.key.equals(Buffer.alloc(32))).toBe(false);

      await cache.keyFor('ten_a', recipient, encapsulate);
      expect(cache.size).toBe(1);
    } finally {
      cache.dispose();
    }
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used pair past maxEntries, wiping it', async () => {
    const r = await Promise.all([1, 2, 3].map(() => generateRecipientKeyPair(noble)));
    let made = 0;
    const counting = (pk: Uint8Array) => (made++, encapsulate(pk));
    const cache = new EncapsulationCache({ reuseMs: 60_000, maxEntries: 2 });
    try {
      await cache.keyFor('t', r[0]!, counting);
      await cache.keyFor('t', r[1]!, counting);
      await cache.keyFor('t', r[0]!, counting); // r0 is now the most recent
      await cache.keyFor('t', r[2]!, counting); // evicts r1
      expect(made).toBe(3);
      await cache.keyFor('t', r[0]!, counting);
      expect(made).toBe(3);
      await cache.keyFor('t', r[1]!, counting);
      expect(made).toBe(4);
    } finally {
      cache.dispose();
    }
  });
});

describe('DecapsulationCache (driver)', () => {
  it('remembers up to its cap, least recently used out first', () => {
    const recipient = { keyId: 'rk_1', secretKey: Buffer.alloc(64, 1) };
    const ct = (n: number) => Buffer.alloc(1088, n);
    const cache = new DecapsulationCache(2);
    cache.add('ten_a', recipient, ct(1), Buffer.alloc(32, 1));
    cache.add('ten_a', recipient, ct(2), Buffer.alloc(32, 2));
    expect(cache.get('ten_a', recipient, ct(1))?.[0]).toBe(1); // refreshes ct 1
    cache.add('ten_a', recipient, ct(3), Buffer.alloc(32, 3)); // evicts ct 2
    expect([1, 2, 3].map((n) => cache.get('ten_a', recipient, ct(n))?.[0])).toEqual([1, undefined, 3]);
    expect(cache.size).toBe(2);
    expect(cache.get('ten_b', recipient, ct(1))).toBeUndefined();
    expect(() => new DecapsulationCache(0)).toThrow(RangeError);
  });
});

describe('envelopes under one encapsulation', () => {
  async function sealSeveral(kemReuse: number, n: number) {
    const spy = kemSpy();
    const fx = await envelopeFixture(spy.backend);
    const signer = await BatchSigner.create({ backend: spy.backend, workers: 0, kemReuseMs: kemReuse });
    try {
      const envs: HybridCryptoEnvelope[] = [];
      // One at a time, so each is its own batch of one (the single format) and only the KEM is shared.
      for (let i = 0; i < n; i++) envs.push(await signer.seal({ ...fx.sealInput, payload: { i }, context: { ...fx.sealInput.context, request_id: `req_${i}` } }));
      return { spy, fx, envs, open: (i: number) => ({ ...fx.openOptions, requestId: `req_${i}` }) };
    } finally {
      await signer.destroy();
    }
  }

  it('share ct_kem, never a nonce; each opens alone; a client cache decapsulates once', async () => {
    const { spy, envs, open } = await sealSeveral(60_000, 5);
    expect(spy.calls.encapsulate).toBe(1);
    expect(new Set(envs.map((e) => e.encrypted.ciphertext_kem)).size).toBe(1);
    expect(new Set(envs.map((e) => e.encrypted.nonce)).size).toBe(5);

    spy.calls.decapsulate = 0;
    for (const [i, env] of envs.entries()) await expect(openEnvelope(env, open(i))).resolves.toEqual({ i });
    expect(spy.calls.decapsulate).toBe(5);

    spy.calls.decapsulate = 0;
    const kemCache = new DecapsulationCache();
    for (const [i, env] of envs.entries()) await expect(openEnvelope(env, { ...open(i), kemCache })).resolves.toEqual({ i });
    expect(spy.calls.decapsulate).toBe(1);
    expect(kemCache.size).toBe(1);
  });

  it('a warm cache excuses nothing: a changed ct_kem, nonce or ciphertext is still refused', async () => {
    const { envs, open } = await sealSeveral(60_000, 2);
    const kemCache = new DecapsulationCache();
    await openEnvelope(envs[0], open(0));
    await openEnvelope(envs[0], { ...open(0), kemCache });
    for (const field of ['ciphertext_kem', 'nonce', 'ciphertext_data'] as const) {
      const bad = structuredClone(envs[1]!);
      const bytes = Buffer.from(bad.encrypted[field], 'base64');
      bytes[0] = (bytes[0] as number) ^ 1;
      bad.encrypted[field] = bytes.toString('base64');
      await expect(openEnvelope(bad, { ...open(1), kemCache })).rejects.toThrow('verification failed');
    }
    expect(kemCache.size).toBe(1);
    await expect(openEnvelope(envs[1], { ...open(1), kemCache })).resolves.toEqual({ i: 1 });
  });

  it('a cache entry is bound to the recipient secret key, not just its id', async () => {
    const { envs, open, fx } = await sealSeveral(60_000, 1);
    const kemCache = new DecapsulationCache();
    await openEnvelope(envs[0], { ...open(0), kemCache });
    const other = await generateRecipientKeyPair(noble);
    // Same key id, another secret: no hit, so it decapsulates with the wrong key and fails.
    await expect(openEnvelope(envs[0], { ...open(0), kemCache, recipient: { keyId: fx.recipient.keyId, secretKey: other.secretKey } })).rejects.toThrow('verification failed');
  });

  it('a pinned nonce (known-answer tests) never meets a reused key', async () => {
    const fx = await envelopeFixture();
    const signer = await BatchSigner.create({ backend: fx.openOptions.backend!, workers: 0, kemReuseMs: 60_000 });
    try {
      const pin = { randomBytes: () => Buffer.alloc(12, 7) };
      const [a, b] = [await signer.seal(fx.sealInput, pin), await signer.seal(fx.sealInput, pin)];
      expect(a.encrypted.nonce).toBe(b.encrypted.nonce);
      expect(a.encrypted.ciphertext_kem).not.toBe(b.encrypted.ciphertext_kem);
    } finally {
      await signer.destroy();
    }
  });

  it('with QS_KEM_REUSE_MS=0 every envelope has its own encapsulation', async () => {
    const { spy, envs } = await sealSeveral(0, 3);
    expect(spy.calls.encapsulate).toBe(3);
    expect(new Set(envs.map((e) => e.encrypted.ciphertext_kem)).size).toBe(3);
  });
});
