/**
 * The size a pipeline answer is counted at must never be below what JSON.stringify makes of it:
 * an estimate that undercounts lets a pipeline past the driver's payload bound, and then every
 * caller in it fails.
 */
import { describe, expect, it } from 'vitest';
import type { OutboundResponsePayload } from '../../src/protocol/wire.js';
import { answerBytes } from '../../src/server/proxy/pipeline-answer-limit.js';

const answer = (values: Array<string | null>): OutboundResponsePayload => ({
  results: [
    {
      command: 'SELECT',
      rowCount: values.length,
      oid: null,
      fields: [{ name: 'a_column_name_of_63_characters_which_is_the_longest_postgres_allows', tableID: 16384, columnID: 1, dataTypeID: 25, dataTypeSize: -1, dataTypeModifier: -1, format: 'text' }],
      rows: values.map((v) => [v]),
    },
  ],
  session_id: null,
});

const jsonBytes = (p: OutboundResponsePayload) => Buffer.byteLength(JSON.stringify(p), 'utf8');

describe('answerBytes', () => {
  it.each([
    ['ASCII', 'user-42@example.com'],
    ['quotes and backslashes', '"\\'.repeat(500)],
    ['CJK (3 UTF-8 bytes each)', '漢字'.repeat(500)],
    ['emoji (surrogate pairs)', '🐘'.repeat(500)],
    ['control characters (6-byte escapes)', '\u0001\u001f\n\t'.repeat(500)],
  ])('is never below the JSON size: %s', (_name, value) => {
    const p = answer([value, value, null, '']);
    expect(answerBytes(p)).toBeGreaterThanOrEqual(jsonBytes(p));
    // …and not wildly above it either, or large reads would be withheld for nothing.
    expect(answerBytes(p)).toBeLessThan(jsonBytes(p) * 1.1 + 1024);
  });

  it('counts an error answer too', () => {
    const p: OutboundResponsePayload = { error: { code: '42P01', message: 'relation "x" does not exist' }, session_id: null };
    expect(answerBytes(p)).toBeGreaterThanOrEqual(jsonBytes(p));
  });
});
