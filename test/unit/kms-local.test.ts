import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isQsError } from '../../src/protocol/errors.js';
import { LocalKms, MASTER_KEY_FILE } from '../../src/server/kms/local-kms.js';

const posix = process.platform !== 'win32';

async function expectKmsFailure(p: Promise<unknown>, message?: RegExp): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isQsError(err), `expected a QsError, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe('QS_KMS_FAILURE');
  if (message) expect((err as Error).message).toMatch(message);
}

describe('LocalKms', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'qs-kms-'));
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('round-trips key material, with a fresh nonce each time', async () => {
    const kms = await LocalKms.open(join(root, 'data'));
    const seed = new Uint8Array(64).map((_, i) => i);
    const a = await kms.wrap(seed, 'tenant:ten_1/vault');
    const b = await kms.wrap(seed, 'tenant:ten_1/vault');
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(a.length).toBe(1 + 8 + 12 + 64 + 16);
    expect(await kms.unwrap(a, 'tenant:ten_1/vault')).toEqual(seed);
    expect(kms.name).toBe('local');
    expect(kms.keyRef).toMatch(/^local:[0-9a-f]{16}$/);
    // The blob's key check id is the one keyRef names.
    expect(Buffer.from(a.subarray(1, 9)).toString('hex')).toBe(kms.keyRef.slice('local:'.length));
    await kms.ping();
  });

  it.runIf(posix)('creates master.key with mode 0600 in a 0700 directory', async () => {
    const dir = join(root, 'data');
    await LocalKms.open(dir);
    expect(statSync(join(dir, MASTER_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const text = readFileSync(join(dir, MASTER_KEY_FILE), 'utf8').trim();
    expect(Buffer.from(text, 'base64')).toHaveLength(32);
  });

  it('reuses the key on a second open', async () => {
    const dir = join(root, 'data');
    const first = await LocalKms.open(dir);
    const wrapped = await first.wrap(Uint8Array.of(1, 2, 3), 'ctx');
    const second = await LocalKms.open(dir);
    expect(second.keyRef).toBe(first.keyRef);
    expect(await second.unwrap(wrapped, 'ctx')).toEqual(Uint8Array.of(1, 2, 3));
  });

  it('two concurrent first opens agree on one key', async () => {
    const dir = join(root, 'data');
    const [a, b] = await Promise.all([LocalKms.open(dir), LocalKms.open(dir)]);
    expect(a.keyRef).toBe(b.keyRef);
  });

  it('names both key check ids when the blob was wrapped by another master key', async () => {
    const a = await LocalKms.open(join(root, 'a'));
    const b = await LocalKms.open(join(root, 'b'));
    const wrapped = await a.wrap(Uint8Array.of(9), 'ctx');
    await expectKmsFailure(b.unwrap(wrapped, 'ctx'), /wrapped by a different KMS key/);
    await expectKmsFailure(b.unwrap(wrapped, 'ctx'), new RegExp(a.keyRef.slice(6)));
  });

  it('refuses another context', async () => {
    const kms = await LocalKms.open(join(root, 'data'));
    const wrapped = await kms.wrap(Uint8Array.of(1, 2), 'tenant:ten_1/vault');
    await expectKmsFailure(kms.unwrap(wrapped, 'tenant:ten_1/token'));
    await expectKmsFailure(kms.unwrap(wrapped, 'tenant:ten_2/vault'));
  });

  it('refuses a tampered blob, byte by byte', async () => {
    const kms = await LocalKms.open(join(root, 'data'));
    const wrapped = await kms.wrap(new Uint8Array(32).fill(7), 'ctx');
    for (let i = 0; i < wrapped.length; i++) {
      const bad = Uint8Array.from(wrapped);
      bad[i] = (bad[i] ?? 0) ^ 0x01;
      await expectKmsFailure(kms.unwrap(bad, 'ctx'));
    }
    await expectKmsFailure(kms.unwrap(wrapped.subarray(0, 20), 'ctx'), /too short/);
  });

  it('never puts key bytes into errors or its own properties', async () => {
    const dir = join(root, 'data');
    const kms = await LocalKms.open(dir);
    const keyB64 = readFileSync(join(dir, MASTER_KEY_FILE), 'utf8').trim();
    const keyHex = Buffer.from(keyB64, 'base64').toString('hex');
    const shown = JSON.stringify(kms) + String(Object.values(kms));
    expect(shown).not.toContain(keyB64);
    expect(shown).not.toContain(keyHex);
    const err = await kms.unwrap(new Uint8Array(40), 'ctx').catch((e: unknown) => e as Error);
    expect(String((err as Error).stack)).not.toContain(keyHex);
  });

  it.runIf(posix)('refuses a master key file that group or others can read', async () => {
    const dir = join(root, 'data');
    await LocalKms.open(dir);
    chmodSync(join(dir, MASTER_KEY_FILE), 0o644);
    await expectKmsFailure(LocalKms.open(dir), /mode 0644.*chmod 600/);
    chmodSync(join(dir, MASTER_KEY_FILE), 0o640);
    await expectKmsFailure(LocalKms.open(dir), /group or others/);
  });

  it('refuses a key file of the wrong length or with junk in it', async () => {
    const dir = join(root, 'data');
    await LocalKms.open(dir);
    const path = join(dir, MASTER_KEY_FILE);
    writeFileSync(path, `${Buffer.alloc(16, 1).toString('base64')}\n`, { mode: 0o600 });
    await expectKmsFailure(LocalKms.open(dir), /exactly 32 bytes/);
    writeFileSync(path, `${Buffer.alloc(32, 1).toString('base64')}!!\n`, { mode: 0o600 });
    await expectKmsFailure(LocalKms.open(dir), /exactly 32 bytes/);
  });
});
