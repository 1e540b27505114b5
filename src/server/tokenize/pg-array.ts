import { QsError } from '../../protocol/errors.js';

/**
 * PostgreSQL's text form of arrays (`array_in` / `array_out`, PostgreSQL docs §8.15.6), for the
 * `col = ANY($n)` parameters whose elements are tokenized one by one. Only what a driver sends is
 * accepted: nested braces, double-quoted elements with backslash escapes, unquoted elements with
 * backslash escapes, unquoted `NULL`. Dimension decorations (`[1:2]={…}`) are refused.
 */

/** A (possibly multi-dimensional) text array: elements are strings, NULLs or sub-arrays. */
export type PgArray = Array<string | null | PgArray>;

/**
 * Parses an array literal like `{a,"b c",NULL,"say \"hi\""}`.
 * @throws QsError `QS_TOKENIZATION_UNSUPPORTED` when the text is not an array literal.
 */
export function parseArrayLiteral(text: string): PgArray {
  const p = new Parser(text);
  p.skipSpace();
  if (p.peek() === '[') p.fail('dimension decorations are not supported');
  const value = p.array();
  p.skipSpace();
  if (!p.done()) p.fail('text after the closing brace');
  return value;
}

/** Serializes an array with every element quoted, so no value is ever read back as NULL or split. */
export function serializeArrayLiteral(value: PgArray): string {
  return `{${value.map((e) => (Array.isArray(e) ? serializeArrayLiteral(e) : e === null ? 'NULL' : `"${e.replace(/[\\"]/g, '\\$&')}"`)).join(',')}}`;
}

/** Applies `fn` to every non-NULL element, keeping the shape. */
export function mapArrayElements(value: PgArray, fn: (element: string) => string): PgArray {
  return value.map((e) => (Array.isArray(e) ? mapArrayElements(e, fn) : e === null ? null : fn(e)));
}

// array_in uses the C locale's isspace.
const SPACE = new Set([' ', '\t', '\n', '\r', '\v', '\f']);

class Parser {
  #i = 0;

  constructor(private readonly text: string) {}

  peek(): string | undefined {
    return this.text[this.#i];
  }

  done(): boolean {
    return this.#i >= this.text.length;
  }

  skipSpace(): void {
    while (SPACE.has(this.text[this.#i] ?? '')) this.#i++;
  }

  fail(why: string): never {
    throw new QsError('QS_TOKENIZATION_UNSUPPORTED', `malformed array parameter for a tokenized column: ${why}`);
  }

  array(): PgArray {
    if (this.text[this.#i] !== '{') this.fail('expected "{"');
    this.#i++;
    const out: PgArray = [];
    this.skipSpace();
    if (this.text[this.#i] === '}') {
      this.#i++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      out.push(this.text[this.#i] === '{' ? this.array() : this.element());
      this.skipSpace();
      const c = this.text[this.#i++];
      if (c === '}') return out;
      if (c !== ',') this.fail(c === undefined ? 'unterminated array' : `unexpected "${c}"`);
    }
  }

  element(): string | null {
    return this.text[this.#i] === '"' ? this.quoted() : this.unquoted();
  }

  quoted(): string {
    this.#i++;
    let s = '';
    for (;;) {
      const c = this.text[this.#i++];
      if (c === undefined) this.fail('unterminated quoted element');
      if (c === '"') return s;
      if (c === '\\') {
        const next = this.text[this.#i++];
        if (next === undefined) this.fail('unterminated escape');
        s += next;
      } else {
        s += c;
      }
    }
  }

  unquoted(): string | null {
    let s = '';
    // Length of `s` up to its last escaped or non-space character: trailing blanks are dropped, escaped ones kept.
    let keep = 0;
    let escaped = false;
    for (;;) {
      const c = this.text[this.#i];
      if (c === undefined || c === ',' || c === '}') break;
      if (c === '{' || c === '"') this.fail(`unexpected "${c}" in an unquoted element`);
      this.#i++;
      if (c === '\\') {
        const next = this.text[this.#i++];
        if (next === undefined) this.fail('unterminated escape');
        s += next;
        escaped = true;
        keep = s.length;
      } else {
        s += c;
        if (!SPACE.has(c)) keep = s.length;
      }
    }
    s = s.slice(0, keep);
    if (s === '' && !escaped) this.fail('empty element');
    if (!escaped && s.toUpperCase() === 'NULL') return null;
    return s;
  }
}
