/**
 * Wraps and unwraps key material (DESIGN §6). Everything secret the server keeps at rest
 * (the signing key seed, per-tenant vault and token keys) passes through a KmsProvider.
 * `context` is bound to the ciphertext (AAD / EncryptionContext): a blob wrapped for one
 * purpose will not unwrap for another.
 */
export interface KmsProvider {
  readonly name: 'local' | 'aws';
  /** A non-secret description of the key in use (file path fingerprint, key ARN). */
  readonly keyRef: string;
  wrap(plaintext: Uint8Array, context: string): Promise<Uint8Array>;
  /** Throws QsError('QS_KMS_FAILURE') when the blob was wrapped under another key or context. */
  unwrap(wrapped: Uint8Array, context: string): Promise<Uint8Array>;
  /** Cheap reachability check for /readyz. */
  ping(): Promise<void>;
}
