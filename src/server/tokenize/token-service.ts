import { QsError } from '../../protocol/errors.js';
import type { TenantKeys, TenantTokenKey } from '../keys/tenant-keys.js';
import type { Store, StoredToken } from '../store/store.js';
import {
  deriveTokenKeys,
  deterministicToken,
  openDeterministic,
  openVaultValue,
  parseToken,
  randomToken,
  sealVaultValue,
  type TokenColumn,
  type TokenKeys,
} from './token-codec.js';

/** The token vault: the two Store methods random tokens need. */
export type TokenVault = Pick<Store, 'putToken' | 'getTokens'>;
/** Where the tenant's token key comes from. */
export type TokenKeySource = Pick<TenantKeys, 'tokenKey'>;

/** How a column's values are tokenized. */
export type TokenMode = 'deterministic' | 'random';

/** Tokens looked up in the vault per store call. */
const VAULT_BATCH = 500;

/**
 * Tokenizes values for one request. Deterministic tokens are computed on the spot; random ones are
 * collected and written to the vault by `flush`, which must finish before the SQL runs so that a
 * row is never stored with a token the vault does not know.
 */
export interface TokenBatch {
  tokenize(column: TokenColumn, mode: TokenMode, value: string): string;
  flush(): Promise<void>;
}

/** One value to detokenize, with the column it was read from. */
export interface TokenRead {
  readonly column: TokenColumn;
  readonly text: string;
}

/**
 * Tokens in and out for every tenant, over the tenant's KMS-wrapped token key and the token vault.
 * Every failure to detokenize is QS_TOKEN_UNKNOWN: an unknown token is never returned as if it were data.
 */
export class TokenService {
  // Keyed by the (memoized, never changing) tenant key object: derived once per tenant and process.
  readonly #derived = new WeakMap<TenantTokenKey, TokenKeys>();

  constructor(
    private readonly vault: TokenVault,
    private readonly keySource: TokenKeySource,
  ) {}

  /** The tenant's derived token keys. */
  async keys(tenantId: string): Promise<TokenKeys> {
    const key = await this.keySource.tokenKey(tenantId);
    let derived = this.#derived.get(key);
    if (derived === undefined) {
      derived = deriveTokenKeys(tenantId, key.secretKey);
      this.#derived.set(key, derived);
    }
    return derived;
  }

  /** A batch for one request of `tenantId`. */
  async batch(tenantId: string): Promise<TokenBatch> {
    const keys = await this.keys(tenantId);
    const pending: StoredToken[] = [];
    return {
      tokenize: (column, mode, value) => {
        if (mode === 'deterministic') return deterministicToken(keys, column, value);
        const token = randomToken();
        pending.push({ tenantId, token, ciphertext: sealVaultValue(keys, tenantId, column, token, value), createdAt: new Date().toISOString() });
        return token;
      },
      flush: async () => {
        const writes = pending.splice(0);
        await Promise.all(writes.map((t) => this.vault.putToken(t)));
      },
    };
  }

  /**
   * Plaintexts of `reads`, in order. Random tokens are fetched from the vault in batches.
   * @throws QsError `QS_TOKEN_UNKNOWN` naming the column (never the value) for anything that is
   *   not a token, does not open under this tenant's key and this column, or is not in the vault.
   */
  async detokenize(tenantId: string, reads: readonly TokenRead[]): Promise<string[]> {
    if (reads.length === 0) return [];
    const keys = await this.keys(tenantId);
    const out: string[] = new Array<string>(reads.length);
    const random: Array<{ index: number; token: string }> = [];
    reads.forEach((read, index) => {
      // char(n) pads with blanks; tokens never contain a blank.
      const parsed = parseToken(read.text.replace(/ +$/, ''));
      if (parsed === null) throw unknown(read.column, 'is not a token');
      if (parsed.kind === 'random') {
        random.push({ index, token: parsed.token });
        return;
      }
      const value = openDeterministic(keys, read.column, parsed.sealed);
      if (value === null) throw unknown(read.column, 'does not open under this tenant and column');
      out[index] = value;
    });
    for (let i = 0; i < random.length; i += VAULT_BATCH) {
      const chunk = random.slice(i, i + VAULT_BATCH);
      const found = await this.vault.getTokens(tenantId, [...new Set(chunk.map((r) => r.token))]);
      for (const { index, token } of chunk) {
        const column = (reads[index] as TokenRead).column;
        const sealed = found.get(token);
        if (sealed === undefined) throw unknown(column, 'is not in the token vault');
        const value = openVaultValue(keys, tenantId, column, token, sealed);
        if (value === null) throw unknown(column, 'does not open under this tenant and column');
        out[index] = value;
      }
    }
    return out;
  }
}

function unknown(column: TokenColumn, why: string): QsError {
  return new QsError('QS_TOKEN_UNKNOWN', `a value read from tokenized column ${column.schema}.${column.table}.${column.column} ${why}`);
}
