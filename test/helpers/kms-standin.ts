import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One call the stand-in answered (for tests that count or inspect KMS traffic). */
export interface KmsStandinCall {
  target: string;
  keyId: string | undefined;
}

export interface KmsStandin {
  /** `http://127.0.0.1:<port>`: pass as the AwsKms endpoint. */
  url: string;
  /** The first key's ARN. */
  keyArn: string;
  /** Every key ARN the stand-in holds. */
  keyArns: string[];
  calls: KmsStandinCall[];
  close(): Promise<void>;
}

/** Static fake credentials: the SDK signs requests with them, the stand-in does not check. */
export const FAKE_AWS_CREDENTIALS = { accessKeyId: 'AKIAEXAMPLEEXAMPLE00', secretAccessKey: 'fake-secret-access-key-for-tests-only' };

const JSON_11 = 'application/x-amz-json-1.1';

/**
 * A local stand-in for the AWS KMS JSON 1.1 API (Encrypt, Decrypt, DescribeKey) on 127.0.0.1
 * port 0. It holds an AES-256 key per ARN; a ciphertext blob is
 * `arnLength (2) ‖ arn ‖ nonce (12) ‖ ciphertext ‖ tag`, with AAD = the encryption context as
 * canonical JSON, so a different context fails exactly as real KMS does
 * (400 InvalidCiphertextException).
 */
export async function startKmsStandin(opts: { region?: string; keys?: number } = {}): Promise<KmsStandin> {
  const region = opts.region ?? 'us-east-1';
  const keys = new Map<string, Buffer>();
  for (let i = 0; i < (opts.keys ?? 1); i++) {
    keys.set(`arn:aws:kms:${region}:111122223333:key/${randomBytes(16).toString('hex')}`, randomBytes(32));
  }
  const calls: KmsStandinCall[] = [];

  const server = createServer((req, res) => {
    readBody(req)
      .then((body) => {
        const target = String(req.headers['x-amz-target'] ?? '');
        if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256')) {
          return fail(res, 'MissingAuthenticationTokenException', 'request is not signed');
        }
        const input = JSON.parse(body) as Record<string, unknown>;
        calls.push({ target, keyId: typeof input.KeyId === 'string' ? input.KeyId : undefined });
        switch (target) {
          case 'TrentService.Encrypt':
            return encrypt(keys, input, res);
          case 'TrentService.Decrypt':
            return decrypt(keys, input, res);
          case 'TrentService.DescribeKey':
            return describe(keys, input, res);
          default:
            return fail(res, 'UnknownOperationException', `unsupported target ${target}`);
        }
      })
      .catch((err: unknown) => fail(res, 'SerializationException', (err as Error).message));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const keyArns = [...keys.keys()];
  return {
    url: `http://127.0.0.1:${port}`,
    keyArn: keyArns[0] as string,
    keyArns,
    calls,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

function encrypt(keys: Map<string, Buffer>, input: Record<string, unknown>, res: ServerResponse): void {
  const arn = String(input.KeyId ?? '');
  const key = keys.get(arn);
  if (!key) return fail(res, 'NotFoundException', `key ${arn} does not exist`);
  const plaintext = Buffer.from(String(input.Plaintext ?? ''), 'base64');
  if (plaintext.length === 0 || plaintext.length > 4096) return fail(res, 'ValidationException', 'Plaintext must be 1..4096 bytes');
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(canonicalContext(input.EncryptionContext));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  const arnBytes = Buffer.from(arn, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(arnBytes.length);
  send(res, 200, { CiphertextBlob: Buffer.concat([len, arnBytes, nonce, ct]).toString('base64'), KeyId: arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
}

function decrypt(keys: Map<string, Buffer>, input: Record<string, unknown>, res: ServerResponse): void {
  const blob = Buffer.from(String(input.CiphertextBlob ?? ''), 'base64');
  if (blob.length < 2) return fail(res, 'InvalidCiphertextException', 'ciphertext too short');
  const arnLength = blob.readUInt16BE(0);
  const arn = blob.subarray(2, 2 + arnLength).toString('utf8');
  const key = keys.get(arn);
  if (!key || blob.length < 2 + arnLength + 12 + 16) return fail(res, 'InvalidCiphertextException', 'unknown ciphertext');
  if (typeof input.KeyId === 'string' && input.KeyId !== arn) return fail(res, 'IncorrectKeyException', 'ciphertext was encrypted under another key');
  const nonce = blob.subarray(2 + arnLength, 2 + arnLength + 12);
  const rest = blob.subarray(2 + arnLength + 12);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(canonicalContext(input.EncryptionContext));
    decipher.setAuthTag(rest.subarray(rest.length - 16));
    const plaintext = Buffer.concat([decipher.update(rest.subarray(0, rest.length - 16)), decipher.final()]);
    send(res, 200, { Plaintext: plaintext.toString('base64'), KeyId: arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
  } catch {
    fail(res, 'InvalidCiphertextException', '');
  }
}

function describe(keys: Map<string, Buffer>, input: Record<string, unknown>, res: ServerResponse): void {
  const arn = String(input.KeyId ?? '');
  if (!keys.has(arn)) return fail(res, 'NotFoundException', `key ${arn} does not exist`);
  send(res, 200, {
    KeyMetadata: { KeyId: arn.split('/').pop(), Arn: arn, Enabled: true, KeyState: 'Enabled', KeyUsage: 'ENCRYPT_DECRYPT', KeySpec: 'SYMMETRIC_DEFAULT' },
  });
}

/** The context as JSON with sorted keys: KMS treats it as an unordered map. */
function canonicalContext(context: unknown): Buffer {
  const entries = Object.entries((context ?? {}) as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(entries), 'utf8');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': JSON_11 });
  res.end(JSON.stringify(body));
}

function fail(res: ServerResponse, type: string, message: string): void {
  send(res, 400, { __type: type, message });
}
