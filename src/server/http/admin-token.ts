import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { constantTimeEqualBit } from '../../crypto/symmetric.js';

export const ADMIN_TOKEN_FILE = 'admin.token';

/**
 * The operator token (DESIGN §4): written to `<data-dir>/admin.token` with mode 0600 on first
 * start. Rotate it by `quantaseal admin rotate-token` (or by deleting the file and restarting).
 */
export function loadOrCreateAdminToken(dataDir: string, rotate = false): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, ADMIN_TOKEN_FILE);
  if (!rotate && existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token.length >= 32) return token;
  }
  const token = `qs_admin_${randomBytes(32).toString('base64url')}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}

export function adminTokenMatches(expected: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  return constantTimeEqualBit(Buffer.from(expected), Buffer.from(given)) === 1;
}
