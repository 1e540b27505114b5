import { pgUtils } from './pg-internals.js';

/**
 * Serialize query parameters exactly as pg does (its own `prepareValue`: Dates in local time or
 * UTC per `pg.defaults.parseInputDatesAsUTC`, arrays as PostgreSQL array literals, objects as JSON,
 * `toPostgres()`, null/undefined → null). pg sends a Buffer as a binary parameter; JSON carries
 * text, so a Buffer travels as bytea's hex text form `\x…`, which PostgreSQL reads back identically.
 */
export function prepareParams(values: readonly unknown[]): Array<string | null> {
  return values.map((value) => {
    const prepared = pgUtils.prepareValue(value);
    if (prepared === null || prepared === undefined) return null;
    if (Buffer.isBuffer(prepared)) return `\\x${prepared.toString('hex')}`;
    return String(prepared);
  });
}
