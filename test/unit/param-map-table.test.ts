import { describe, expect, it } from 'vitest';
import { isQsError } from '../../src/protocol/errors.js';
import { clearParamMapCache, mapParameters } from '../../src/server/tokenize/param-map.js';
import type { TokenizedField } from '../../src/server/tokenize/param-map.js';

const FIELDS: readonly TokenizedField[] = [
  { schema: 'public', table: 'users', column: 'email', mode: 'deterministic' },
  { schema: 'public', table: 'users', column: 'phone', mode: 'deterministic' },
  { schema: 'public', table: 'users', column: 'ssn', mode: 'random' },
  { schema: 'crm', table: 'contacts', column: 'email', mode: 'deterministic' },
];

const EMAIL = 'public.users.email';
const PHONE = 'public.users.phone';
const SSN = 'public.users.ssn';

/** Expected mapping: `$n` → `schema.table.column` (suffix `[]` for array parameters). */
type Mapping = Readonly<Record<number, string>>;

interface Row {
  readonly sql: string;
  /** The mapping, or the refusal: the column the message names and a phrase of its reason. */
  readonly expect: Mapping | { readonly refused: string; readonly because: string };
}

const ROWS: readonly Row[] = [
  // INSERT
  { sql: 'INSERT INTO users (email, name) VALUES ($1, $2)', expect: { 1: EMAIL } },
  { sql: 'INSERT INTO users (name, email, ssn) VALUES ($1, $2, $3), ($4, $5, $6)', expect: { 2: EMAIL, 3: SSN, 5: EMAIL, 6: SSN } },
  { sql: 'INSERT INTO public.users (email) VALUES ($1::text) RETURNING id, email', expect: { 1: EMAIL } },
  { sql: 'INSERT INTO users (email, phone) VALUES ($1, NULL), (DEFAULT, $2)', expect: { 1: EMAIL, 2: PHONE } },
  { sql: 'INSERT INTO users (email, name) VALUES ($1, $2) ON CONFLICT (email) DO UPDATE SET email = $3, name = EXCLUDED.name', expect: { 1: EMAIL, 3: EMAIL } },
  { sql: 'INSERT INTO users (email) VALUES ($1) ON CONFLICT (email) DO UPDATE SET email = EXCLUDED.email', expect: { 1: EMAIL } },
  { sql: 'INSERT INTO users (id, email) SELECT $1, $2', expect: { 2: EMAIL } },
  { sql: 'INSERT INTO users (id, email) SELECT o.user_id, $1 FROM orders o WHERE o.id = $2', expect: { 1: EMAIL } },
  { sql: 'INSERT INTO orders (user_id, note) VALUES ($1, $2)', expect: {} },
  { sql: 'INSERT INTO orders VALUES ($1, $2)', expect: {} },
  { sql: 'INSERT INTO crm.contacts (email) VALUES ($1)', expect: { 1: 'crm.contacts.email' } },
  { sql: 'INSERT INTO users VALUES ($1, $2)', expect: { refused: EMAIL, because: 'without a column list' } },
  { sql: "INSERT INTO users (email) VALUES ('a@b.c')", expect: { refused: EMAIL, because: 'literal in the SQL text' } },
  { sql: 'INSERT INTO users (email) VALUES (lower($1))', expect: { refused: EMAIL, because: 'expression or function' } },
  { sql: 'INSERT INTO users (email) VALUES ($1::bytea)', expect: { refused: EMAIL, because: 'cast to bytea' } },

  // UPDATE / DELETE
  { sql: 'UPDATE users SET email = $1, name = $2 WHERE id = $3', expect: { 1: EMAIL } },
  { sql: 'UPDATE users u SET phone = $1 WHERE u.email = $2', expect: { 1: PHONE, 2: EMAIL } },
  { sql: 'UPDATE users SET (email, name) = ($1, $2) WHERE id = $3', expect: { 1: EMAIL } },
  { sql: 'UPDATE users SET ssn = $1 WHERE id = $2', expect: { 1: SSN } },
  { sql: 'DELETE FROM users WHERE email = $1 RETURNING id', expect: { 1: EMAIL } },
  { sql: 'DELETE FROM users WHERE ssn = $1', expect: { refused: SSN, because: 'random-mode' } },

  // WHERE / JOIN / HAVING
  { sql: 'SELECT * FROM users WHERE email = $1', expect: { 1: EMAIL } },
  { sql: 'SELECT * FROM users WHERE $1 = email AND id > $2', expect: { 1: EMAIL } },
  { sql: 'SELECT * FROM users WHERE email <> $1', expect: { 1: EMAIL } },
  { sql: 'SELECT * FROM users WHERE email IS NOT DISTINCT FROM $1', expect: { 1: EMAIL } },
  { sql: 'SELECT * FROM users WHERE email IN ($1, $2) OR phone = $3', expect: { 1: EMAIL, 2: EMAIL, 3: PHONE } },
  { sql: 'SELECT * FROM users WHERE email = ANY($1)', expect: { 1: `${EMAIL}[]` } },
  { sql: 'SELECT * FROM users WHERE email = ANY($1::text[])', expect: { 1: `${EMAIL}[]` } },
  { sql: 'SELECT * FROM public.users WHERE public.users.email = $1', expect: { 1: EMAIL } },
  { sql: 'SELECT u.id FROM users u JOIN orders o ON o.user_id = u.id WHERE u.email = $1 AND o.status = $2', expect: { 1: EMAIL } },
  { sql: 'SELECT o.id FROM orders o JOIN users u ON u.id = o.user_id AND u.phone = $1', expect: { 1: PHONE } },
  { sql: 'SELECT email, count(*) FROM users GROUP BY email HAVING email = $1', expect: { 1: EMAIL } },
  { sql: 'SELECT * FROM users WHERE email IS NULL AND id = $1', expect: {} },
  { sql: 'SELECT a.id FROM users a JOIN users b ON a.email = b.email WHERE b.id = $1', expect: {} },
  { sql: 'SELECT lower(email), name FROM users WHERE id = $1', expect: {} },
  { sql: 'SELECT * FROM orders WHERE note LIKE $1', expect: {} },
  { sql: 'SELECT * FROM users WHERE email LIKE $1', expect: { refused: EMAIL, because: 'LIKE/ILIKE' } },
  { sql: 'SELECT * FROM users WHERE email ILIKE $1', expect: { refused: EMAIL, because: 'LIKE/ILIKE' } },
  { sql: 'SELECT * FROM users WHERE email SIMILAR TO $1', expect: { refused: EMAIL, because: 'SIMILAR TO' } },
  { sql: 'SELECT * FROM users WHERE email ~ $1', expect: { refused: EMAIL, because: 'pattern match' } },
  { sql: 'SELECT * FROM users WHERE email > $1', expect: { refused: EMAIL, because: 'do not keep order' } },
  { sql: 'SELECT * FROM users WHERE email BETWEEN $1 AND $2', expect: { refused: EMAIL, because: 'BETWEEN' } },
  { sql: 'SELECT * FROM users WHERE lower(email) = $1', expect: { refused: EMAIL, because: 'wrapped in a function' } },
  { sql: 'SELECT * FROM users WHERE email::bytea = $1', expect: { refused: EMAIL, because: 'cast to bytea' } },
  { sql: "SELECT * FROM users WHERE email = 'a@b.c'", expect: { refused: EMAIL, because: 'literal in the SQL text' } },
  { sql: 'SELECT * FROM users WHERE email = $1::int', expect: { refused: EMAIL, because: 'cast to int4' } },
  { sql: 'SELECT * FROM users WHERE ssn = $1', expect: { refused: SSN, because: 'random-mode' } },
  { sql: 'SELECT * FROM users WHERE ssn IS NULL', expect: { refused: SSN, because: 'random-mode' } },
  { sql: 'SELECT * FROM users u JOIN orders o ON o.user_id = u.id WHERE email = $1', expect: { refused: EMAIL, because: 'ambiguous' } },
  { sql: 'SELECT * FROM users WHERE email = $1 OR phone = $1', expect: { refused: PHONE, because: `also feeds ${EMAIL}` } },
  { sql: 'SELECT * FROM users WHERE coalesce(email, $1) = $2', expect: { refused: EMAIL, because: 'wrapped in a function' } },
  { sql: 'SELECT * FROM users u, crm.contacts c WHERE u.email = c.email', expect: { refused: EMAIL, because: 'different tokenized column' } },
  { sql: 'SELECT email = $1 FROM users', expect: { 1: EMAIL } },
  { sql: 'SELECT email || $1 FROM users', expect: { refused: EMAIL, because: 'combined with a parameter' } },

  // whole-row references: the token travels inside a row or JSON value, where nothing maps
  { sql: 'SELECT * FROM users WHERE (users).email = $1', expect: { refused: EMAIL, because: 'whole-row reference (users)' } },
  { sql: 'SELECT * FROM users u WHERE (u).email = $1', expect: { refused: EMAIL, because: 'whole-row reference (u)' } },
  { sql: 'SELECT * FROM users WHERE users.* = ROW(1, $1)', expect: { refused: EMAIL, because: 'whole-row reference (users.*)' } },
  { sql: 'SELECT * FROM users u WHERE ROW(u.*) = ROW(1, $1)', expect: { refused: EMAIL, because: 'whole-row reference (u.*)' } },
  { sql: "SELECT * FROM users WHERE to_jsonb(users)->>'email' = $1", expect: { refused: EMAIL, because: 'whole-row reference (users)' } },
  { sql: 'SELECT * FROM users u WHERE row_to_json(u)::text LIKE $1', expect: { refused: EMAIL, because: 'whole-row reference (u)' } },
  { sql: 'SELECT * FROM users u WHERE u = $1::users', expect: { refused: EMAIL, because: 'whole-row reference (u)' } },
  { sql: 'SELECT * FROM public.users WHERE public.users = $1', expect: { refused: EMAIL, because: 'whole-row reference (public.users)' } },
  { sql: 'SELECT * FROM users u WHERE u IS NOT NULL AND id = $1', expect: { refused: EMAIL, because: 'whole-row reference (u)' } },
  { sql: 'SELECT o.id FROM orders o JOIN users u ON to_jsonb(u) @> $1', expect: { refused: EMAIL, because: 'whole-row reference (u)' } },
  { sql: "SELECT u.id FROM users u GROUP BY u.id HAVING bool_or(to_jsonb(u)->>'email' = $1)", expect: { refused: EMAIL, because: 'whole-row reference (u)' } },
  { sql: 'SELECT s.id FROM (SELECT id, email FROM users) s WHERE to_jsonb(s) @> $1', expect: { refused: EMAIL, because: 'whole-row reference (s)' } },
  { sql: "SELECT to_jsonb(u) || jsonb_build_object('x', $1) FROM users u", expect: { refused: EMAIL, because: 'combined with a parameter' } },
  { sql: 'SELECT to_jsonb(u) FROM users u WHERE u.id = $1', expect: {} },
  { sql: 'SELECT * FROM orders o WHERE to_jsonb(o) @> $1', expect: {} },
  { sql: 'SELECT * FROM orders o WHERE o.* = ROW(1, $1)', expect: {} },

  // JOIN … USING / NATURAL JOIN: same-named columns are compared without a written condition
  { sql: 'SELECT * FROM users JOIN orders USING (email) WHERE orders.note = $1', expect: { refused: EMAIL, because: 'JOIN … USING on "email"' } },
  { sql: 'SELECT * FROM orders o JOIN users u USING (id, email)', expect: { refused: EMAIL, because: 'JOIN … USING on "email"' } },
  { sql: 'SELECT * FROM users u JOIN crm.contacts c USING (email)', expect: { refused: EMAIL, because: 'JOIN … USING on "email"' } },
  { sql: 'SELECT * FROM users NATURAL JOIN orders WHERE orders.note = $1', expect: { refused: EMAIL, because: 'NATURAL JOIN on "email"' } },
  { sql: 'SELECT * FROM orders NATURAL LEFT JOIN users', expect: { refused: EMAIL, because: 'NATURAL JOIN on "email"' } },
  { sql: 'SELECT * FROM users a JOIN users b USING (ssn)', expect: { refused: SSN, because: 'random-mode' } },
  { sql: 'SELECT * FROM users a JOIN users b USING (email) WHERE email = $1', expect: { 1: EMAIL } },
  { sql: 'SELECT * FROM users JOIN orders USING (id) WHERE users.email = $1', expect: { 1: EMAIL } },
  { sql: 'SELECT * FROM users NATURAL JOIN (SELECT 1 AS id) s WHERE users.email = $1', expect: { 1: EMAIL } },
  { sql: 'SELECT * FROM orders NATURAL JOIN payments WHERE orders.id = $1', expect: {} },

  // functions given both a tokenized column and a parameter
  { sql: 'SELECT starts_with(email, $1) FROM users', expect: { refused: EMAIL, because: 'function starts_with() together with a parameter' } },
  { sql: 'SELECT * FROM users WHERE starts_with(email, $1)', expect: { refused: EMAIL, because: 'function starts_with() together with a parameter' } },
  { sql: 'SELECT coalesce(email, $1) FROM users', expect: { refused: EMAIL, because: 'COALESCE together with a parameter' } },
  { sql: 'SELECT greatest(u.phone, $1) FROM users u', expect: { refused: PHONE, because: 'GREATEST together with a parameter' } },
  { sql: 'SELECT id FROM users ORDER BY levenshtein(email, $1)', expect: { refused: EMAIL, because: 'function levenshtein() together with a parameter' } },
  { sql: 'SELECT ARRAY[email, $1] FROM users', expect: { refused: EMAIL, because: 'ARRAY value together with a parameter' } },
  { sql: 'SELECT upper(coalesce(email, $1::text)) FROM users', expect: { refused: EMAIL, because: 'COALESCE together with a parameter' } },
  { sql: 'SELECT * FROM users u, LATERAL strpos(u.email, $1) p', expect: { refused: EMAIL, because: 'function strpos() together with a parameter' } },
  { sql: 'SELECT bool_or(email = $1) FROM users', expect: { 1: EMAIL } },
  { sql: 'SELECT count(*) FILTER (WHERE email = $1) FROM users', expect: { 1: EMAIL } },
  { sql: 'SELECT coalesce(email, note) FROM users WHERE id = $1', expect: {} },
  { sql: 'SELECT coalesce(note, $1) FROM orders', expect: {} },
  { sql: 'SELECT CASE email WHEN $1 THEN 1 WHEN $2 THEN 2 END FROM users', expect: { 1: EMAIL, 2: EMAIL } },
  { sql: "SELECT CASE email WHEN 'a@b.c' THEN 1 END FROM users", expect: { refused: EMAIL, because: 'literal in the SQL text' } },
  { sql: 'SELECT CASE ssn WHEN $1 THEN 1 END FROM users', expect: { refused: SSN, because: 'random-mode' } },

  // CTEs and subqueries
  { sql: 'WITH u AS (SELECT id, email FROM users) SELECT id FROM u WHERE email = $1', expect: { 1: EMAIL } },
  { sql: 'WITH u(i, e) AS (SELECT id, email FROM users) SELECT i FROM u WHERE e = $1', expect: { 1: EMAIL } },
  { sql: 'SELECT s.id FROM (SELECT id, email AS mail FROM users) s WHERE s.mail = $1', expect: { 1: EMAIL } },
  { sql: 'SELECT s.id FROM (SELECT * FROM users) s WHERE s.email = $1', expect: { 1: EMAIL } },
  { sql: 'SELECT id FROM orders WHERE user_id IN (SELECT id FROM users WHERE email = $1) AND status = $2', expect: { 1: EMAIL } },
  { sql: 'SELECT * FROM orders o WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id AND u.email = $1)', expect: { 1: EMAIL } },
  { sql: 'SELECT * FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND email = $1)', expect: { refused: EMAIL, because: 'ambiguous' } },
  { sql: 'SELECT * FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND u.email = $1)', expect: { 1: EMAIL } },
  { sql: 'SELECT * FROM users u, LATERAL (SELECT o.id FROM orders o WHERE o.user_id = u.id AND u.phone = $1) x', expect: { 1: PHONE } },
  { sql: 'SELECT * FROM (SELECT * FROM users) s(a, b) WHERE s.a = $1', expect: { refused: EMAIL, because: 'column alias list over *' } },
  { sql: 'SELECT email FROM users WHERE id = $1 UNION SELECT note FROM orders', expect: {} },
  { sql: 'SELECT * FROM (SELECT email FROM users UNION SELECT note FROM orders) s WHERE s.email = $1', expect: { refused: EMAIL, because: 'set operation' } },
  { sql: 'SELECT s.id FROM (SELECT id, lower(email) AS e FROM users) s WHERE s.e = $1', expect: { refused: EMAIL, because: 'wrapped in a function' } },
  { sql: 'WITH n AS (INSERT INTO users (email) VALUES ($1) RETURNING id) SELECT id FROM n', expect: { 1: EMAIL } },
  { sql: 'SELECT id FROM users WHERE email IN (SELECT email FROM users WHERE id = $1)', expect: {} },
  { sql: 'SELECT id FROM users WHERE email IN (SELECT note FROM orders)', expect: { refused: EMAIL, because: 'not the same tokenized column' } },

  // other statements
  { sql: 'MERGE INTO users u USING orders o ON u.id = o.user_id WHEN MATCHED THEN UPDATE SET email = $1', expect: { refused: EMAIL, because: 'MERGE' } },
  { sql: 'BEGIN', expect: {} },
];

function outcome(sql: string): Mapping | { refused: string; because: string } | string {
  try {
    const map = mapParameters(sql, FIELDS);
    const out: Record<number, string> = {};
    for (const [n, t] of map) out[n] = `${t.schema}.${t.table}.${t.column}${t.array ? '[]' : ''}`;
    return out;
  } catch (err) {
    if (!isQsError(err)) throw err;
    if (err.code !== 'QS_TOKENIZATION_UNSUPPORTED') return err.code;
    const named = /^tokenized column (\S+): /.exec(err.message)?.[1] ?? '';
    return { refused: named, because: err.message };
  }
}

describe('mapParameters table', () => {
  it('has enough rows to mean something', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(28);
  });

  it.each(ROWS.map((row) => [row.sql, row] as const))('%s', (_name, row) => {
    clearParamMapCache();
    const got = outcome(row.sql);
    if ('refused' in row.expect) {
      expect(got).toMatchObject({ refused: row.expect.refused, because: expect.stringContaining(row.expect.because) });
    } else {
      expect(got).toEqual(row.expect);
    }
  });
});

describe('mapParameters details', () => {
  it('reports mode and array on each target', () => {
    const map = mapParameters('SELECT * FROM users WHERE email = ANY($1)', FIELDS);
    expect(map.get(1)).toEqual({ schema: 'public', table: 'users', column: 'email', mode: 'deterministic', array: true });
  });

  it('maps nothing, without parsing, when nothing is tokenized', () => {
    expect(mapParameters('not sql at all', []).size).toBe(0);
  });

  it('refuses with code QS_TOKENIZATION_UNSUPPORTED and SQLSTATE 0A000, from cache too', () => {
    for (let i = 0; i < 2; i++) {
      try {
        mapParameters('SELECT * FROM users WHERE email LIKE $1', FIELDS);
        expect.unreachable();
      } catch (err) {
        expect(isQsError(err) && err.code).toBe('QS_TOKENIZATION_UNSUPPORTED');
        expect((err as { sqlstate: string }).sqlstate).toBe('0A000');
      }
    }
  });

  it('fails closed on a parse error', () => {
    expect(() => mapParameters('SELEC email FROM users', FIELDS)).toThrow(expect.objectContaining({ code: 'QS_SQL_SYNTAX' }));
  });

  it('caches per (SQL, fields): the same map object comes back, other fields give another answer', () => {
    const sql = 'SELECT * FROM users WHERE email = $1';
    const a = mapParameters(sql, FIELDS);
    expect(mapParameters(sql, FIELDS)).toBe(a);
    const noEmail = FIELDS.filter((f) => f.column !== 'email');
    expect(mapParameters(sql, noEmail).size).toBe(0);
  });
});
