import { randomBytes } from 'node:crypto';
import { aessiv } from '@noble/ciphers/aes.js';
import { hkdf } from '../../crypto/symmetric.js';

/**
 * Token formats (DESIGN §6). Pure functions: no store, no clock; the caller supplies keys.
 *
 *   deterministic  `tok_d1` ‖ base64url(AES-SIV(K_siv, AAD, value))      (RFC 5297: V ‖ C)
 *   random         `tok_r1` ‖ base64url(128 random bits)                  (value kept in the vault)
 *
 * The two-character marker says which path detokenizes a token, and its version digit leaves room
 * for a later format. Both kinds are bound to their column through the AAD, so a token copied into
 * another column (say from a `detokenize: false` column into a `detokenize: true` one) does not open.
 */

const encoder = new TextEncoder();
// fatal: SIV already authenticated the bytes, so invalid UTF-8 means a bug; say so, do not repair.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Every token starts with this. */
export const TOKEN_PREFIX = 'tok_';
const DET_MARK = 'd1';
const RND_MARK = 'r1';
/** Random token ids carry 128 bits. */
const RANDOM_ID_BYTES = 16;
/** RFC 5297: the synthetic IV is one AES block. */
const SIV_BYTES = 16;
/** Labels of the AAD vectors, so a deterministic token and a vault entry can never be confused. */
const DET_LABEL = utf8('quantaseal/token/d1');
const RND_LABEL = utf8('quantaseal/token/r1');
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The column a token belongs to. */
export interface TokenColumn {
  readonly schema: string;
  readonly table: string;
  readonly column: string;
}

/** Keys derived from a tenant's token key; one HKDF output per purpose (key separation). */
export interface TokenKeys {
  /** AES-256-SIV key (two 256-bit halves) for deterministic tokens. */
  readonly deterministic: Uint8Array;
  /** AES-256-SIV key for the values of random tokens kept in the token vault. */
  readonly vault: Uint8Array;
}

/** What a token's text says about itself; null from `parseToken` when it is no token. */
export type ParsedToken = { readonly kind: 'deterministic'; readonly sealed: Uint8Array } | { readonly kind: 'random'; readonly token: string };

/**
 * Derives the per-purpose keys from the tenant's 64-byte token key (HKDF-SHA-256, RFC 5869).
 * The tenant id is the salt, so two tenants never share derived keys even if their master
 * secrets were equal.
 */
export function deriveTokenKeys(tenantId: string, secretKey: Uint8Array): TokenKeys {
  const salt = utf8(`quantaseal/v2/token-key/${tenantId}`);
  return {
    deterministic: hkdf('sha256', secretKey, salt, utf8('deterministic'), 64),
    vault: hkdf('sha256', secretKey, salt, utf8('vault'), 64),
  };
}

/**
 * The deterministic token of `value` in `column`: equal values give equal tokens in one column of
 * one tenant (so equality, joins and unique indexes work on tokens) and different tokens in
 * another column. AES-SIV is an injective, authenticated encryption, so distinct values never
 * share a token and any change to a token makes it fail to open.
 */
export function deterministicToken(keys: TokenKeys, column: TokenColumn, value: string): string {
  const sealed = aessiv(keys.deterministic, ...columnAad(DET_LABEL, column)).encrypt(utf8(value));
  return `${TOKEN_PREFIX}${DET_MARK}${Buffer.from(sealed).toString('base64url')}`;
}

/** Opens a deterministic token's sealed bytes; null under the wrong key or column, or when modified. */
export function openDeterministic(keys: TokenKeys, column: TokenColumn, sealed: Uint8Array): string | null {
  try {
    return fromUtf8(aessiv(keys.deterministic, ...columnAad(DET_LABEL, column)).decrypt(sealed));
  } catch {
    return null;
  }
}

/** A fresh random token (128 bits from the OS CSPRNG). Its value must be sealed into the vault. */
export function randomToken(): string {
  return `${TOKEN_PREFIX}${RND_MARK}${randomBytes(RANDOM_ID_BYTES).toString('base64url')}`;
}

/**
 * Encrypts a random token's value for the token vault, AAD = tenant ‖ column ‖ token, so a vault
 * row moved to another tenant, column or token does not open. SIV needs no nonce, and the token
 * itself is unique, so equal values still give unrelated ciphertexts.
 */
export function sealVaultValue(keys: TokenKeys, tenantId: string, column: TokenColumn, token: string, value: string): Uint8Array {
  return aessiv(keys.vault, ...vaultAad(tenantId, column, token)).encrypt(utf8(value));
}

/** Decrypts a vault entry; null when it does not open (wrong tenant, column, token or key). */
export function openVaultValue(keys: TokenKeys, tenantId: string, column: TokenColumn, token: string, sealed: Uint8Array): string | null {
  try {
    return fromUtf8(aessiv(keys.vault, ...vaultAad(tenantId, column, token)).decrypt(sealed));
  } catch {
    return null;
  }
}

/**
 * Reads a token's kind from its text, strictly: anything that is not exactly one of the two
 * forms is not a token (the caller fails closed on it, never passes it through as data).
 */
export function parseToken(text: string): ParsedToken | null {
  if (!text.startsWith(TOKEN_PREFIX)) return null;
  const mark = text.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + 2);
  const body = text.slice(TOKEN_PREFIX.length + 2);
  if (!BASE64URL.test(body)) return null;
  const bytes = Buffer.from(body, 'base64url');
  // Canonical encodings only: one token, one spelling (the vault is keyed by the text).
  if (bytes.toString('base64url') !== body) return null;
  if (mark === DET_MARK) return bytes.length >= SIV_BYTES ? { kind: 'deterministic', sealed: new Uint8Array(bytes) } : null;
  if (mark === RND_MARK) return bytes.length === RANDOM_ID_BYTES ? { kind: 'random', token: text } : null;
  return null;
}

/** True when `text` has the exact shape of a token (says nothing about whether it opens). */
export function looksLikeToken(text: string): boolean {
  return parseToken(text) !== null;
}

// S2V takes a vector of strings, so the parts need no separator and cannot run into each other.
function columnAad(label: Uint8Array, column: TokenColumn): Uint8Array[] {
  return [label, utf8(column.schema), utf8(column.table), utf8(column.column)];
}

function vaultAad(tenantId: string, column: TokenColumn, token: string): Uint8Array[] {
  return [RND_LABEL, utf8(tenantId), utf8(column.schema), utf8(column.table), utf8(column.column), utf8(token)];
}

function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
