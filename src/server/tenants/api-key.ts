import { randomBytes } from 'node:crypto';
import { sha256 } from '../../crypto/symmetric.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_RE = /^qs_(live|test)_[0-9A-Za-z]{43}$/;

/** A new API key: `qs_live_` + 43 base62 characters (~256 bits), by rejection sampling (no bias). */
export function generateApiKey(mode: 'live' | 'test' = 'live'): string {
  let body = '';
  while (body.length < 43) {
    for (const b of randomBytes(64)) {
      if (b < 248 && body.length < 43) body += BASE62[b % 62];
    }
  }
  return `qs_${mode}_${body}`;
}

export function looksLikeApiKey(value: unknown): value is string {
  return typeof value === 'string' && KEY_RE.test(value);
}

/** The store keeps only this (hex SHA-256): a leaked store does not leak usable keys. */
export function hashApiKey(apiKey: string): string {
  return sha256(apiKey).toString('hex');
}

/** `qs_live_AbCd` — enough for a person to tell keys apart, far too little to guess one. */
export function apiKeyPrefix(apiKey: string): string {
  return apiKey.slice(0, 12);
}
