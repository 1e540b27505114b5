import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isQsError } from '../../src/protocol/errors.js';
import { AwsKms } from '../../src/server/kms/aws-kms.js';
import { openKms } from '../../src/server/kms/open-kms.js';
import { FAKE_AWS_CREDENTIALS, startKmsStandin, type KmsStandin } from '../helpers/kms-standin.js';

async function kmsError(p: Promise<unknown>): Promise<Error & { code?: string }> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isQsError(err), `expected a QsError, got ${String(err)}`).toBe(true);
  return err as Error & { code?: string };
}

describe('AwsKms against a local KMS stand-in', () => {
  let standin: KmsStandin;
  let kms: AwsKms;

  beforeAll(async () => {
    standin = await startKmsStandin({ region: 'eu-west-1', keys: 2 });
    kms = new AwsKms({ keyArn: standin.keyArn, endpoint: standin.url, credentials: FAKE_AWS_CREDENTIALS });
  });
  afterAll(async () => {
    kms.close();
    await standin.close();
  });

  it('round-trips a seed through Encrypt and Decrypt under the key ARN', async () => {
    const seed = new Uint8Array(64).map((_, i) => 255 - i);
    const wrapped = await kms.wrap(seed, 'signing-key');
    expect(Buffer.from(wrapped).includes(Buffer.from(seed))).toBe(false);
    expect(await kms.unwrap(wrapped, 'signing-key')).toEqual(seed);
    expect(kms.keyRef).toBe(`aws:${standin.keyArn}`);
    const targets = standin.calls.map((c) => c.target);
    expect(targets).toContain('TrentService.Encrypt');
    expect(targets).toContain('TrentService.Decrypt');
    expect(standin.calls.every((c) => c.keyId === standin.keyArn)).toBe(true);
  });

  it('fails with QS_KMS_FAILURE naming the AWS error when the context differs', async () => {
    const wrapped = await kms.wrap(Uint8Array.of(1, 2, 3), 'tenant:ten_1/vault');
    const err = await kmsError(kms.unwrap(wrapped, 'tenant:ten_1/token'));
    expect(err.code).toBe('QS_KMS_FAILURE');
    expect(err.message).toContain('InvalidCiphertextException');
    expect(err.message).not.toContain('AQID'); // base64 of the plaintext
  });

  it('refuses a blob wrapped under another key ARN', async () => {
    const other = new AwsKms({ keyArn: standin.keyArns[1] as string, endpoint: standin.url, credentials: FAKE_AWS_CREDENTIALS });
    try {
      const wrapped = await other.wrap(Uint8Array.of(5), 'ctx');
      const err = await kmsError(kms.unwrap(wrapped, 'ctx'));
      expect(err.code).toBe('QS_KMS_FAILURE');
      expect(err.message).toContain('IncorrectKeyException');
    } finally {
      other.close();
    }
  });

  it('ping describes the key; an unknown ARN fails it', async () => {
    await kms.ping();
    const missing = new AwsKms({
      keyArn: 'arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000',
      endpoint: standin.url,
      credentials: FAKE_AWS_CREDENTIALS,
    });
    try {
      const err = await kmsError(missing.ping());
      expect(err.message).toContain('NotFoundException');
    } finally {
      missing.close();
    }
  });

  it('reports an unreachable endpoint as QS_KMS_FAILURE', async () => {
    const dead = new AwsKms({ keyArn: standin.keyArn, endpoint: 'http://127.0.0.1:1', credentials: FAKE_AWS_CREDENTIALS });
    try {
      const err = await kmsError(dead.wrap(Uint8Array.of(1), 'ctx'));
      expect(err.code).toBe('QS_KMS_FAILURE');
    } finally {
      dead.close();
    }
  });

  it('openKms builds an AwsKms from aws:<ARN> and rejects other specs', async () => {
    const prev = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = FAKE_AWS_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = FAKE_AWS_CREDENTIALS.secretAccessKey;
    try {
      const opened = await openKms(`aws:${standin.keyArn}`, { dataDir: '/nonexistent', awsEndpoint: standin.url });
      expect(opened.name).toBe('aws');
      expect(await opened.unwrap(await opened.wrap(Uint8Array.of(4, 2), 'x'), 'x')).toEqual(Uint8Array.of(4, 2));
      (opened as AwsKms).close();
    } finally {
      if (prev.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = prev.id;
      if (prev.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = prev.secret;
    }
    await expect(openKms('aws:not-an-arn', { dataDir: '/nonexistent' })).rejects.toMatchObject({ code: 'QS_CONFIG' });
    await expect(openKms('vault', { dataDir: '/nonexistent' })).rejects.toMatchObject({ code: 'QS_CONFIG' });
  });

  it('takes its region from the ARN and rejects unknown options', () => {
    expect(() => new AwsKms({ keyArn: 'arn:aws:kms::1:key/x' })).toThrow(/region/);
    expect(() => new AwsKms({ keyArn: standin.keyArn, regoin: 'x' } as never)).toThrow(/unknown AwsKms option/);
  });
});
