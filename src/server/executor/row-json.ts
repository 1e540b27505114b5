import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { QsError } from '../../protocol/errors.js';

/**
 * The rows of one result as the JSON text the payload carries (`[["1","a"],["2",null]]`), written
 * straight from PostgreSQL's DataRow messages. pg would decode every value into a JS string (one
 * native call each: 30,000 for a 10,000-row, 3-column answer) that JSON.stringify then re-encodes;
 * here the text form's bytes are copied once, escaped exactly as JSON.stringify escapes them.
 */
export interface EncodedRows {
  /** `[` row `,` row … `]`, UTF-8. */
  readonly json: Buffer;
  /** Rows written (not counting those dropped past a row limit). */
  readonly count: number;
}

/**
 * What JSON.stringify writes for encoded rows (their stand-in array's toJSON), as `"MARK<n>"`, for
 * serializeWithEncodedRows to replace with the bytes. Random per process, so no string in a
 * payload can be mistaken for it.
 */
export const ENCODED_ROWS_MARK = `qs-rows-${randomBytes(16).toString('hex')}-`;

/** Per byte: 0 copy as is, 1 a two-byte escape (`\"` `\\` `\b` `\f` `\n` `\r` `\t`), 2 `\u00XX`. */
const ESCAPE = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) ESCAPE[c] = 2;
const SHORT: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x08: 0x62, 0x0c: 0x66, 0x0a: 0x6e, 0x0d: 0x72, 0x09: 0x74 };
for (const c of Object.keys(SHORT)) ESCAPE[Number(c)] = 1;
const HEX = Buffer.from('0123456789abcdef', 'latin1');

const OPEN = 0x5b;
const CLOSE = 0x5d;
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NULL_JSON = Buffer.from('null', 'latin1');

/** Largest rows text a writer builds (as the old path: about V8's longest string). */
export const MAX_ENCODED_ROWS_BYTES = 512 * 1024 * 1024;

/**
 * Builds EncodedRows from DataRow message bodies (after the type byte and length: an int16 column
 * count, then per column an int32 length, -1 for NULL, and that many bytes of text form).
 * Room is reserved per value (its length, and more only as escapes need it), so a value of
 * hundreds of MB costs about its own size; past `maxBytes` it throws QS_RESULT_TOO_LARGE.
 */
export class RowJsonWriter {
  #out: Buffer;
  #pos = 1;
  #count = 0;
  readonly #maxBytes: number;

  // Small to start (from Buffer's shared pool): most answers are a row or a few; a large one
  // doubles its way up, copying less than its final size in all.
  constructor(initialBytes = 512, maxBytes = MAX_ENCODED_ROWS_BYTES) {
    this.#out = Buffer.allocUnsafe(Math.max(16, initialBytes));
    this.#out[0] = OPEN;
    this.#maxBytes = maxBytes;
  }

  get count(): number {
    return this.#count;
  }

  /** Appends one row from `body[start, end)` (exactly one DataRow message body). */
  addRow(body: Buffer, start = 0, end = body.length): void {
    const columns = body.readInt16BE(start);
    // Separators, brackets and NULLs: 6 bytes a column covers them; values reserve their own.
    this.#reserve(8 + 6 * columns);
    let out = this.#out;
    let o = this.#pos;
    if (this.#count > 0) out[o++] = COMMA;
    out[o++] = OPEN;
    let p = start + 2;
    for (let c = 0; c < columns; c++) {
      if (c > 0) out[o++] = COMMA;
      const length = body.readInt32BE(p);
      p += 4;
      if (length < 0) {
        NULL_JSON.copy(out, o);
        o += 4;
        continue;
      }
      const from = p;
      const to = p + length;
      if (to > end) throw new RangeError('a DataRow value runs past its message');
      // The value unescaped, its quotes, and what is left of the row's separators.
      this.#pos = o;
      this.#reserve(length + 8 + 6 * (columns - c));
      out = this.#out;
      const valueAt = o;
      out[o++] = QUOTE;
      let high = false;
      for (; p < to; p++) {
        const b = body[p]!;
        const kind = ESCAPE[b]!;
        if (kind === 0) {
          out[o++] = b;
          if (b >= 0x80) high = true;
          continue;
        }
        if (o + 6 + (to - p) + 8 + 6 * (columns - c) > out.length) {
          this.#pos = o;
          this.#reserve(6 + (to - p) + 8 + 6 * (columns - c));
          out = this.#out;
        }
        out[o++] = BACKSLASH;
        if (kind === 1) {
          out[o++] = SHORT[b]!;
        } else {
          out[o++] = 0x75; // u
          out[o++] = 0x30;
          out[o++] = 0x30;
          out[o++] = HEX[b >> 4]!;
          out[o++] = HEX[b & 15]!;
        }
      }
      out[o++] = QUOTE;
      // Valid UTF-8 copied as is is what JSON.stringify writes for the decoded string; bytes that
      // are not UTF-8 (a SQL_ASCII database) are decoded as pg would decode them, with U+FFFD.
      if (high && !isUtf8(body.subarray(from, to))) {
        o = this.#writeDecoded(valueAt, body.toString('utf8', from, to), 8 + 6 * (columns - c));
        out = this.#out;
      }
    }
    out[o++] = CLOSE;
    this.#pos = o;
    this.#count++;
  }

  /** The rows so far, closed. The writer is spent. */
  finish(): EncodedRows {
    this.#reserve(1);
    this.#out[this.#pos++] = CLOSE;
    return { json: this.#out.subarray(0, this.#pos), count: this.#count };
  }

  /** Rewrites the value that began at `at` as JSON.stringify(text), keeping `after` bytes of room; returns its end. */
  #writeDecoded(at: number, text: string, after: number): number {
    const json = JSON.stringify(text);
    this.#pos = at;
    this.#reserve(Buffer.byteLength(json, 'utf8') + after);
    return at + this.#out.write(json, at, 'utf8');
  }

  #reserve(bytes: number): void {
    const need = this.#pos + bytes;
    if (need <= this.#out.length) return;
    if (need > this.#maxBytes) {
      throw new QsError('QS_RESULT_TOO_LARGE', `the result's rows exceed the largest answer the proxy sends (${this.#maxBytes} bytes of JSON)`);
    }
    const grown = Buffer.allocUnsafe(Math.min(this.#maxBytes, Math.max(this.#out.length * 2, need)));
    this.#out.copy(grown, 0, 0, this.#pos);
    this.#out = grown;
  }
}

const encoded = new WeakMap<object, EncodedRows>();
let nextId = 0;
/** The rows met by the JSON.stringify that serializeWithEncodedRows is running, by mark number. */
let collecting: Map<number, EncodedRows> | null = null;

/**
 * The `rows` of a WireResult whose rows are EncodedRows: an empty, frozen array standing for them
 * (nothing can add rows to it by mistake). Size estimates read them through encodedRowsOf; inside
 * serializeWithEncodedRows JSON.stringify writes the stand-in as a mark to be replaced by the
 * bytes (a toJSON, which keeps JSON.stringify on its fast path, unlike a replacer function).
 * Serialized anywhere else it throws: an answer must never carry a mark, or `[]`, for its rows.
 */
export function encodedRowsArray(rows: EncodedRows): Array<Array<string | null>> {
  const id = nextId++;
  const standIn: unknown[] = [];
  Object.defineProperty(standIn, 'toJSON', {
    value: () => {
      if (collecting === null) throw new Error('encoded rows can only be serialized by serializeWithEncodedRows');
      collecting.set(id, rows);
      return `${ENCODED_ROWS_MARK}${id}`;
    },
  });
  Object.freeze(standIn);
  encoded.set(standIn, rows);
  return standIn as Array<Array<string | null>>;
}

/** The EncodedRows a result's `rows` stands for, or undefined for ordinary rows. */
export function encodedRowsOf(rows: unknown): EncodedRows | undefined {
  return typeof rows === 'object' && rows !== null ? encoded.get(rows) : undefined;
}

/** A mark as JSON.stringify writes it, with its number captured. */
const MARKED = new RegExp(`"${ENCODED_ROWS_MARK}(\\d+)"`);

/**
 * JSON.stringify(value) as UTF-8, with the bytes of every EncodedRows inside it where
 * JSON.stringify would have written those rows: the same text, produced without turning the rows
 * into strings. Any value, any shape; without encoded rows, just its JSON.
 */
export function serializeWithEncodedRows(value: unknown): Buffer {
  const met = new Map<number, EncodedRows>();
  const outer = collecting;
  collecting = met;
  let text: string;
  try {
    text = JSON.stringify(value) ?? 'null';
  } finally {
    collecting = outer;
  }
  if (met.size === 0) return Buffer.from(text, 'utf8');
  // split() with a capture group: text, mark number, text, …, text.
  const parts = text.split(MARKED);
  return Buffer.concat(
    parts.map((part, i) => {
      if (i % 2 === 0) return Buffer.from(part, 'utf8');
      const rows = met.get(Number(part));
      // A mark this serialization did not write (a string that looks like one): never answer it.
      if (rows === undefined) throw new Error('an encoded rows mark without its rows');
      return rows.json;
    }),
  );
}
