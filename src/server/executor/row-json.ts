import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';

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
 * proxy/payload-json.ts to replace with the bytes. Random per process, so no string in a payload
 * can be mistaken for it.
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

/**
 * Builds EncodedRows from DataRow message bodies (after the type byte and length: an int16 column
 * count, then per column an int32 length, -1 for NULL, and that many bytes of text form).
 */
export class RowJsonWriter {
  #out: Buffer;
  #pos = 1;
  #count = 0;

  // Small to start (from Buffer's shared pool): most answers are a row or a few; a large one
  // doubles its way up, copying less than its final size in all.
  constructor(initialBytes = 512) {
    this.#out = Buffer.allocUnsafe(Math.max(16, initialBytes));
    this.#out[0] = OPEN;
  }

  get count(): number {
    return this.#count;
  }

  /** Appends one row from `body[start, end)` (exactly one DataRow message body). */
  addRow(body: Buffer, start = 0, end = body.length): void {
    const columns = body.readInt16BE(start);
    // Room for the row's worst case: every byte a six-byte escape.
    this.#reserve(6 * (end - start) + 8 + 5 * columns);
    const out = this.#out;
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
      const valueAt = o;
      out[o++] = QUOTE;
      let high = false;
      for (; p < to; p++) {
        const b = body[p]!;
        const kind = ESCAPE[b]!;
        if (kind === 0) {
          out[o++] = b;
          if (b >= 0x80) high = true;
        } else if (kind === 1) {
          out[o++] = BACKSLASH;
          out[o++] = SHORT[b]!;
        } else {
          out[o++] = BACKSLASH;
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
      if (high && !isUtf8(body.subarray(from, to))) o = this.#writeDecoded(valueAt, body.toString('utf8', from, to));
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

  /** Rewrites the value that began at `at` as JSON.stringify(text); returns the new end. */
  #writeDecoded(at: number, text: string): number {
    const json = JSON.stringify(text);
    // The escaped bytes already reserved cover it: U+FFFD (3 bytes) replaces at least one byte,
    // whose worst case was six.
    return at + this.#out.write(json, at, 'utf8');
  }

  #reserve(bytes: number): void {
    if (this.#pos + bytes <= this.#out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#out.length * 2, this.#pos + bytes));
    this.#out.copy(grown, 0, 0, this.#pos);
    this.#out = grown;
  }
}

const encoded = new WeakMap<object, { rows: EncodedRows; id: number }>();
let nextId = 0;

/**
 * The `rows` of a WireResult whose rows are EncodedRows: an empty, frozen array standing for them
 * (nothing can add rows to it by mistake) that serialization (proxy/payload-json.ts) and size
 * estimates (encodedRowsOf) replace with the encoded text. JSON.stringify writes it as its mark
 * (a toJSON, which keeps JSON.stringify on its fast path, unlike a replacer function).
 */
export function encodedRowsArray(rows: EncodedRows): Array<Array<string | null>> {
  const id = nextId++;
  const standIn: unknown[] = [];
  Object.defineProperty(standIn, 'toJSON', { value: () => `${ENCODED_ROWS_MARK}${id}` });
  Object.freeze(standIn);
  encoded.set(standIn, { rows, id });
  return standIn as Array<Array<string | null>>;
}

/** The EncodedRows a result's `rows` stands for, or undefined for ordinary rows. */
export function encodedRowsOf(rows: unknown): EncodedRows | undefined {
  return typeof rows === 'object' && rows !== null ? encoded.get(rows)?.rows : undefined;
}

/** The number in the mark JSON.stringify writes for these rows (encodedRowsArray). */
export function encodedRowsId(rows: unknown): number | undefined {
  return typeof rows === 'object' && rows !== null ? encoded.get(rows)?.id : undefined;
}
