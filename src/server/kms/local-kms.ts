import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { closeSync, fstatSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QsError } from '../../protocol/errors.js';
import type { KmsProvider } from './kms.js';

const VERSION = 1;
const KEY_BYTES = 32;
const KEY_ID_BYTES = 8;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES + NONCE_BYTES;

/** The master key file inside the data directory. */
export const MASTER_KEY_FILE = 'master.key';

/**
 * The embedded KMS (DESIGN §6): a 32-byte master key in `<dataDir>/master.key` (base64,
 * mode 0600) and AES-256-GCM. A wrapped blob is
 *
 *   version (1) ‖ key check id (8) ‖ nonce (12) ‖ ciphertext ‖ tag (16)
 *
 * with AAD = the UTF-8 context. The key check id, SHA-256("quantaseal/kms-key-id" ‖ key)[0..8],
 * lets unwrap tell "another master key" apart from "tampered or wrong context".
 */
export class LocalKms implements KmsProvider {
  readonly name = 'local' as const;
  readonly keyRef: string;
  /** A KeyObject, not a Buffer: the key bytes never show up when this object is logged. */
  readonly #key: KeyObject;
  readonly #keyId: Buffer;

  private constructor(key: Buffer) {
    this.#key = createSecretKey(key);
    this.#keyId = keyCheckId(key);
    key.fill(0);
    this.keyRef = `local:${this.#keyId.toString('hex')}`;
  }

  /**
   * Loads the master key from `dataDir`, creating it (and the directory, mode 0700) on first
   * start. Refuses a key file that group or others may access, or that does not hold 32 bytes.
   */
  static async open(dataDir: string): Promise<LocalKms> {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const path = join(dataDir, MASTER_KEY_FILE);
    createKeyFileIfMissing(path);
    return new LocalKms(readKeyFile(path));
  }

  /** AES-256-GCM under the master key with a fresh random nonce; AAD = context. */
  async wrap(plaintext: Uint8Array, context: string): Promise<Uint8Array> {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return new Uint8Array(Buffer.concat([Buffer.of(VERSION), this.#keyId, nonce, ciphertext, cipher.getAuthTag()]));
  }

  /** Reverses wrap; QS_KMS_FAILURE for another master key, another context or a modified blob. */
  async unwrap(wrapped: Uint8Array, context: string): Promise<Uint8Array> {
    const blob = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength);
    if (blob.length < HEADER_BYTES + TAG_BYTES) throw new QsError('QS_KMS_FAILURE', 'wrapped key material is too short');
    if (blob[0] !== VERSION) throw new QsError('QS_KMS_FAILURE', `wrapped key material has unknown format version ${blob[0]}`);
    const keyId = blob.subarray(1, 1 + KEY_ID_BYTES);
    if (!keyId.equals(this.#keyId)) {
      throw new QsError(
        'QS_KMS_FAILURE',
        `key material was wrapped by a different KMS key (blob key check id ${keyId.toString('hex')}, ` +
          `this master key ${this.#keyId.toString('hex')}); is master.key the one this data was created with?`,
      );
    }
    const nonce = blob.subarray(1 + KEY_ID_BYTES, HEADER_BYTES);
    const tag = blob.subarray(blob.length - TAG_BYTES);
    const ciphertext = blob.subarray(HEADER_BYTES, blob.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce);
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(tag);
      return new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
    } catch {
      // No cause attached: OpenSSL's message says nothing useful and nothing may leak by accident.
      throw new QsError('QS_KMS_FAILURE', 'wrapped key material failed authentication (modified, or wrapped for another context)');
    }
  }

  /** The key is in memory, so there is nothing to reach. */
  async ping(): Promise<void> {}
}

/** SHA-256("quantaseal/kms-key-id" ‖ key)[0..8]: identifies a key without revealing it. */
function keyCheckId(key: Uint8Array): Buffer {
  return createHash('sha256').update('quantaseal/kms-key-id').update(key).digest().subarray(0, KEY_ID_BYTES);
}

/**
 * Writes a new key to a temporary file and hard-links it into place: link() fails if the
 * name exists, so two processes starting at once never overwrite each other's key, and no
 * reader ever sees a half-written file.
 */
function createKeyFileIfMissing(path: string): void {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const key = randomBytes(KEY_BYTES);
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeFileSync(fd, `${key.toString('base64')}\n`);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  } finally {
    key.fill(0);
    try {
      unlinkSync(tmp);
    } catch {
      // Already gone or never created: nothing to clean up.
    }
  }
}

function readKeyFile(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new QsError('QS_KMS_FAILURE', `${path} is not a regular file`);
    // Windows has no POSIX modes; elsewhere a key others can read is a key others may have copied.
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
      throw new QsError('QS_KMS_FAILURE', `refusing to use ${path}: mode ${mode} lets group or others access it; run chmod 600 ${path}`);
    }
    const text = readFileSync(fd, 'utf8').trim();
    const key = Buffer.from(text, 'base64');
    // Re-encoding catches stray characters that Node's lenient base64 decoder would skip.
    if (key.length !== KEY_BYTES || key.toString('base64') !== text) {
      key.fill(0);
      throw new QsError('QS_KMS_FAILURE', `${path} must hold exactly ${KEY_BYTES} bytes in base64`);
    }
    return key;
  } finally {
    closeSync(fd);
  }
}
