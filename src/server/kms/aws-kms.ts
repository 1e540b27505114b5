import { DecryptCommand, DescribeKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { QsError } from '../../protocol/errors.js';
import type { KmsProvider } from './kms.js';

/** Static AWS credentials (otherwise the SDK's default chain: env, profile, instance role …). */
export interface AwsKmsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface AwsKmsOptions {
  /** `arn:aws:kms:<region>:<account>:key/<id>` (or an alias ARN). */
  keyArn: string;
  /** Defaults to the region in the ARN. */
  region?: string;
  /** Another endpoint (a VPC endpoint, or a local stand-in in tests). */
  endpoint?: string;
  credentials?: AwsKmsCredentials;
}

const OPTION_KEYS: ReadonlySet<string> = new Set(['keyArn', 'region', 'endpoint', 'credentials']);

/**
 * Wraps key material with AWS KMS Encrypt/Decrypt under one key ARN. The context goes into
 * the EncryptionContext as `{ purpose: context }`, which KMS binds to the ciphertext (and logs
 * in CloudTrail). Encrypt takes at most 4 KB, plenty for the seeds we wrap (≤ 64 bytes).
 */
export class AwsKms implements KmsProvider {
  readonly name = 'aws' as const;
  readonly keyRef: string;
  readonly #keyArn: string;
  readonly #client: KMSClient;

  constructor(options: AwsKmsOptions) {
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.has(key)) throw new QsError('QS_CONFIG', `unknown AwsKms option: ${key}`);
    }
    const region = options.region ?? regionFromArn(options.keyArn);
    if (region === undefined) throw new QsError('QS_CONFIG', `cannot tell the AWS region from ${options.keyArn}; pass region`);
    this.#keyArn = options.keyArn;
    this.keyRef = `aws:${options.keyArn}`;
    this.#client = new KMSClient({
      region,
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    });
  }

  /** KMS Encrypt with EncryptionContext `{ purpose: context }`. */
  async wrap(plaintext: Uint8Array, context: string): Promise<Uint8Array> {
    const out = await this.#send('Encrypt', () =>
      this.#client.send(new EncryptCommand({ KeyId: this.#keyArn, Plaintext: plaintext, EncryptionContext: { purpose: context } })),
    );
    if (!out.CiphertextBlob) throw new QsError('QS_KMS_FAILURE', 'AWS KMS Encrypt returned no ciphertext');
    return out.CiphertextBlob;
  }

  /** KMS Decrypt, pinned to our key ARN so a blob from another key is refused by KMS itself. */
  async unwrap(wrapped: Uint8Array, context: string): Promise<Uint8Array> {
    const out = await this.#send('Decrypt', () =>
      this.#client.send(new DecryptCommand({ KeyId: this.#keyArn, CiphertextBlob: wrapped, EncryptionContext: { purpose: context } })),
    );
    if (!out.Plaintext) throw new QsError('QS_KMS_FAILURE', 'AWS KMS Decrypt returned no plaintext');
    return out.Plaintext;
  }

  /** DescribeKey: checks reachability, credentials and that the key is enabled. */
  async ping(): Promise<void> {
    const out = await this.#send('DescribeKey', () => this.#client.send(new DescribeKeyCommand({ KeyId: this.#keyArn })));
    if (out.KeyMetadata?.Enabled === false) {
      throw new QsError('QS_KMS_FAILURE', `AWS KMS key ${this.#keyArn} is not enabled (state ${out.KeyMetadata.KeyState ?? 'unknown'})`);
    }
  }

  /** Closes the SDK's HTTP connections. */
  close(): void {
    this.#client.destroy();
  }

  /**
   * Runs one call, turning any failure into QS_KMS_FAILURE with the AWS error name. The SDK
   * error is not attached as cause: its request metadata could carry the plaintext we sent.
   */
  async #send<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const e = err as { name?: unknown; code?: unknown; message?: unknown };
      // Service errors carry their AWS name (InvalidCiphertextException …); socket errors only a code.
      const name = typeof e.name === 'string' && e.name !== 'Error' ? e.name : typeof e.code === 'string' ? e.code : 'Error';
      const detail = typeof e.message === 'string' && e.message !== '' ? `: ${e.message.slice(0, 200)}` : '';
      throw new QsError('QS_KMS_FAILURE', `AWS KMS ${operation} failed (${name})${detail}`);
    }
  }
}

/** `arn:<partition>:kms:<region>:<account>:<resource>` → region. */
function regionFromArn(arn: string): string | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn' || parts[2] !== 'kms') return undefined;
  return parts[3] || undefined;
}
