import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/protocol/error-codes.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const rows = [...readme.matchAll(/^\| `(QS_[A-Z_]+)` \| (\d{3}) \| ([0-9A-Z]{5}) \|/gm)].map((m) => [m[1], Number(m[2]), m[3]] as const);

describe('error registry', () => {
  it('the README error table lists exactly the registry, with the same status and SQLSTATE', () => {
    expect(rows.length).toBeGreaterThan(0);
    const fromRegistry = Object.entries(ERROR_CODES).map(([code, e]) => [code, e.status, e.sqlstate] as const);
    expect(rows).toEqual(fromRegistry);
  });

  it('every code is QS_-prefixed with a five-character SQLSTATE and a description', () => {
    for (const [code, e] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^QS_[A-Z_]+$/);
      expect(e.sqlstate).toMatch(/^[0-9A-Z]{5}$/);
      expect(e.description.length).toBeGreaterThan(10);
    }
  });
});
