/**
 * Rows written as JSON straight from DataRow bytes (row-json.ts) must be exactly the bytes that
 * JSON.stringify writes for the values pg would have decoded, for every byte there can be.
 * The diverter (row-diverter.ts) must take out exactly the DataRows of the diverted query from a
 * message stream cut into chunks anywhere, and pass every other byte on in order.
 */
import { describe, expect, it } from 'vitest';
import { RowDiverter } from '../../src/server/executor/row-diverter.js';
import { encodedRowsArray, RowJsonWriter, serializeWithEncodedRows } from '../../src/server/executor/row-json.js';
import { seededRandom } from '../../bench/seeded-random.js';

/** A DataRow message (type byte, length, column count, columns); `null` is SQL NULL. */
function dataRow(values: Array<Buffer | null>): Buffer {
  const body = Buffer.concat([
    Buffer.from([values.length >> 8, values.length & 255]),
    ...values.map((v) => {
      const len = Buffer.alloc(4);
      len.writeInt32BE(v === null ? -1 : v.length);
      return v === null ? len : Buffer.concat([len, v]);
    }),
  ]);
  const head = Buffer.alloc(5);
  head[0] = 0x44;
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** Any other message: `type` and a body of `body`. */
function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/**
 * What pg would have produced: each value decoded as UTF-8, then JSON.stringify of the rows, as
 * UTF-8 bytes. Compared byte for byte (shown as latin1): decoding both sides first would hide
 * invalid UTF-8 copied through, since it decodes to U+FFFD either way.
 */
const expected = (rows: Array<Array<Buffer | null>>) =>
  Buffer.from(JSON.stringify(rows.map((r) => r.map((v) => (v === null ? null : v.toString('utf8'))))), 'utf8').toString('latin1');

function encode(rows: Array<Array<Buffer | null>>, initialBytes?: number): string {
  const writer = new RowJsonWriter(initialBytes);
  for (const r of rows) writer.addRow(dataRow(r).subarray(5));
  const { json, count } = writer.finish();
  expect(count).toBe(rows.length);
  return json.toString('latin1');
}

describe('RowJsonWriter', () => {
  it('writes every single byte value as JSON.stringify writes its decoded string', () => {
    const rows = Array.from({ length: 256 }, (_, b) => [Buffer.from([b]), Buffer.from([0x61, b, 0x62])]);
    expect(encode(rows)).toBe(expected(rows));
  });

  it('copies valid UTF-8 as is (2, 3 and 4-byte characters, U+2028, U+FEFF) and keeps NULL and empty apart', () => {
    const rows = [
      [Buffer.from('héllo wörld'), Buffer.from('日本語テキスト'), Buffer.from('emoji 😀 ok')],
      [Buffer.from('line\u2028sep\u2029para'), Buffer.from('\ufeffbom'), null],
      [Buffer.from(''), null, Buffer.from('"quoted" \\ back\\slash\n\t\r\b\f\u0000\u001f\u007f')],
    ];
    expect(encode(rows)).toBe(expected(rows));
  });

  it('decodes bytes that are not UTF-8 as pg would (U+FFFD), as a SQL_ASCII database may send them', () => {
    const rows = [[Buffer.from([0xff, 0x41]), Buffer.from([0xe6, 0x97]), Buffer.from([0x41, 0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0xaf, 0x22, 0x0a])]];
    expect(encode(rows)).toBe(expected(rows));
  });

  it('matches JSON.stringify on random rows of random bytes, growing its buffer from a small start', () => {
    const rand = seededRandom(0x5eed);
    const rows: Array<Array<Buffer | null>> = [];
    for (let r = 0; r < 500; r++) {
      const cols = 1 + Math.floor(rand() * 6);
      rows.push(
        Array.from({ length: cols }, () => {
          if (rand() < 0.1) return null;
          const len = Math.floor(rand() * 40);
          // Mostly ASCII, some control bytes and high bytes (valid UTF-8 or not).
          return Buffer.from(Array.from({ length: len }, () => (rand() < 0.8 ? 0x20 + Math.floor(rand() * 95) : Math.floor(rand() * 256))));
        }),
      );
    }
    expect(encode(rows, 16)).toBe(expected(rows));
  });

  it('grows inside a value that is all escapes, from the smallest start', () => {
    const rows = [[Buffer.alloc(5000, 0x0a), Buffer.alloc(3000, 0x01), null], [Buffer.from('"'.repeat(2000)), Buffer.alloc(0), Buffer.from('x')]];
    expect(encode(rows, 16)).toBe(expected(rows));
  });

  it('refuses to grow past its limit with QS_RESULT_TOO_LARGE, reserving about a value\'s size, not six times a row\'s', () => {
    const writer = new RowJsonWriter(16, 4096);
    writer.addRow(dataRow([Buffer.alloc(3000, 0x61)]).subarray(5));
    expect(() => writer.addRow(dataRow([Buffer.alloc(2000, 0x61)]).subarray(5))).toThrow(expect.objectContaining({ code: 'QS_RESULT_TOO_LARGE' }) as Error);
    // 3,000 plain bytes fit a 4,096-byte limit although six times them would not.
    expect(new RowJsonWriter(16, 4096).addRow(dataRow([Buffer.alloc(3000, 0x61)]).subarray(5))).toBeUndefined();
  });

  it('writes [] for no rows, and a row with no columns as []', () => {
    expect(encode([])).toBe('[]');
    expect(encode([[], []])).toBe('[[],[]]');
  });
});

describe('RowDiverter', () => {
  /** A stream of two queries' worth of messages: rows of the first are diverted, the second's pass. */
  function stream(rand: () => number) {
    const rowsA = Array.from({ length: 40 }, (_, i) => [Buffer.from(String(i)), rand() < 0.2 ? null : Buffer.from('x'.repeat(Math.floor(rand() * 300)))]);
    const rowsB = Array.from({ length: 5 }, (_, i) => [Buffer.from(`b${i}`)]);
    const first = Buffer.concat([message('1', Buffer.alloc(0)), message('2', Buffer.alloc(0)), message('T', Buffer.from('fields')), ...rowsA.map(dataRow), message('C', Buffer.from('SELECT 40\0')), message('Z', Buffer.from('I'))]);
    const second = Buffer.concat([message('T', Buffer.from('fields')), ...rowsB.map(dataRow), message('C', Buffer.from('SELECT 5\0')), message('Z', Buffer.from('I'))]);
    const notice = message('N', Buffer.from('a notice between queries'));
    return { rowsA, first, second, notice, passedFirst: Buffer.concat([message('1', Buffer.alloc(0)), message('2', Buffer.alloc(0)), message('T', Buffer.from('fields')), message('C', Buffer.from('SELECT 40\0')), message('Z', Buffer.from('I'))]) };
  }

  it('takes out exactly the diverted query\'s DataRows however the stream is cut, and only until its ReadyForQuery', () => {
    const rand = seededRandom(42);
    for (let trial = 0; trial < 200; trial++) {
      const { rowsA, first, second, notice, passedFirst } = stream(rand);
      const all = Buffer.concat([first, notice, second]);
      const diverter = new RowDiverter();
      const writer = new RowJsonWriter(64);
      diverter.divert((buf, start, end) => writer.addRow(buf, start, end));
      // Cut anywhere: single bytes, headers split, bodies split.
      const passed: Buffer[] = [];
      for (let at = 0; at < all.length; ) {
        const size = trial % 4 === 0 ? 1 : 1 + Math.floor(rand() * 700);
        passed.push(Buffer.from(diverter.filter(all.subarray(at, at + size))));
        at += size;
      }
      expect(Buffer.concat(passed).equals(Buffer.concat([passedFirst, notice, second]))).toBe(true);
      expect(writer.finish().json.toString('latin1')).toBe(expected(rowsA));
    }
  });

  it('passes everything through when nothing diverts, and declines (never throws) a second diversion while one is active', () => {
    const { first } = stream(seededRandom(7));
    const diverter = new RowDiverter();
    expect(diverter.filter(first).equals(first)).toBe(true);
    const sink = () => undefined;
    expect(diverter.divert(sink)).toBe(true);
    expect(diverter.divert(() => undefined)).toBe(false);
    diverter.stop(() => undefined);
    expect(diverter.divert(() => undefined)).toBe(false);
    diverter.stop(sink);
    expect(diverter.divert(sink)).toBe(true);
  });

  it('stopped halfway through the rows, passes the rest to pg; a second diverted query gets only its own rows', () => {
    const rand = seededRandom(99);
    const { rowsA, first, second } = stream(rand);
    const diverter = new RowDiverter();
    const got: Buffer[] = [];
    const sink = (buf: Buffer, start: number, end: number) => {
      got.push(Buffer.from(buf.subarray(start, end)));
      if (got.length === 10) diverter.stop(sink);
    };
    diverter.divert(sink);
    const passed = diverter.filter(first);
    expect(got).toHaveLength(10);
    // The other 30 DataRows went on to pg, in order, with everything else.
    const restRows = Buffer.concat(rowsA.slice(10).map(dataRow));
    expect(passed.includes(restRows)).toBe(true);
    const writer = new RowJsonWriter();
    expect(diverter.divert((buf, start, end) => writer.addRow(buf, start, end))).toBe(true);
    diverter.filter(second);
    expect(writer.finish().json.toString('latin1')).toBe(expected(Array.from({ length: 5 }, (_, i) => [Buffer.from(`b${i}`)])));
  });

  it('encoded rows serialize only through serializeWithEncodedRows: anywhere else JSON.stringify throws, never writes a mark or []', () => {
    const writer = new RowJsonWriter();
    writer.addRow(dataRow([Buffer.from('1'), null]).subarray(5));
    const rows = encodedRowsArray(writer.finish());
    const payload = { results: [{ command: 'SELECT', rows }], session_id: null, note: 'qs-rows-lookalike-0' };
    expect(() => JSON.stringify(payload)).toThrow(/serializeWithEncodedRows/);
    expect(serializeWithEncodedRows(payload).toString()).toBe('{"results":[{"command":"SELECT","rows":[["1",null]]}],"session_id":null,"note":"qs-rows-lookalike-0"}');
    expect(serializeWithEncodedRows({ plain: [1, 'two'] }).toString()).toBe('{"plain":[1,"two"]}');
  });
});
