import { describe, expect, it } from 'vitest';
import { guessOperation } from '../../src/client/sql-operation-hint.js';
import type { Operation } from '../../src/protocol/wire.js';

const CASES: Array<[sql: string, operation: Operation, multi?: boolean]> = [
  ['SELECT 1', 'query'],
  ['  select * from users where id = $1', 'query'],
  ['VALUES (1), (2)', 'query'],
  ['TABLE users', 'query'],
  ['SHOW search_path', 'query'],
  ['(SELECT 1) UNION (SELECT 2)', 'query'],
  ['-- leading comment\nSELECT 1', 'query'],
  ['/* outer /* nested */ still comment */ DELETE FROM t', 'execute'],
  ['INSERT INTO t (a) VALUES ($1) RETURNING id', 'execute'],
  ['update t set a = 1', 'execute'],
  ['DELETE FROM t WHERE id = $1', 'execute'],
  ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', 'execute'],
  ['WITH x AS (SELECT 1) SELECT * FROM x', 'query'],
  ['WITH RECURSIVE r(n) AS (VALUES (1) UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r', 'query'],
  ['WITH moved AS (DELETE FROM a RETURNING *) SELECT * FROM moved', 'execute'],
  ['WITH x AS MATERIALIZED ((SELECT 1)) INSERT INTO t SELECT * FROM x', 'execute'],
  ['WITH x AS (SELECT 1) UPDATE t SET a = (SELECT * FROM x)', 'execute'],
  ['BEGIN', 'transaction'],
  ['START TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'transaction'],
  ['commit', 'transaction'],
  ['END', 'transaction'],
  ['ROLLBACK TO SAVEPOINT s1', 'transaction'],
  ['SAVEPOINT s1', 'transaction'],
  ['RELEASE SAVEPOINT s1', 'transaction'],
  ['SET search_path TO app', 'transaction'],
  ['RESET ALL', 'transaction'],
  ['CREATE TABLE t (id int)', 'ddl'],
  ['ALTER TABLE t ADD COLUMN b text', 'ddl'],
  ['DROP TABLE IF EXISTS t', 'ddl'],
  ['TRUNCATE t', 'ddl'],
  ["COMMENT ON TABLE t IS 'x'", 'ddl'],
  ['GRANT SELECT ON t TO app', 'ddl'],
  ['REVOKE ALL ON t FROM app', 'ddl'],
  // Multi-statement detection.
  ['SELECT 1; SELECT 2', 'query', true],
  ['BEGIN; INSERT INTO t VALUES (1); COMMIT;', 'transaction', true],
  ['SELECT 1;', 'query', false],
  ['SELECT 1; -- trailing comment only', 'query', false],
  ['SELECT 1;;  /* nothing */ ', 'query', false],
  ["SELECT 'a;b'", 'query', false],
  ["SELECT E'it\\'s; fine'", 'query', false],
  ['SELECT "weird;name" FROM t', 'query', false],
  ['SELECT $$ ; DROP TABLE t; $$', 'query', false],
  ['SELECT $body$ a;b $body$, $1', 'query', false],
  ["CREATE FUNCTION f() RETURNS int AS $fn$ SELECT 1; $fn$ LANGUAGE sql", 'ddl', false],
  ['SELECT 1 -- ; SELECT 2', 'query', false],
  ['SELECT a$b FROM t; SELECT 2', 'query', true],
  // Unknown verbs are never guessed as reads (reads are the only thing retried).
  ["DO $$ BEGIN PERFORM 1; END $$", 'execute', false],
  ['', 'query', false],
];

describe('guessOperation', () => {
  it('has a meaningful table', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(25);
  });

  it.each(CASES)('%j → %s', (sql, operation, multi) => {
    const hint = guessOperation(sql);
    expect(hint.operation).toBe(operation);
    if (multi !== undefined) expect(hint.multiStatement).toBe(multi);
  });

  it('answers the same from its cache', () => {
    expect(guessOperation('SELECT 1; SELECT 2')).toEqual({ operation: 'query', multiStatement: true });
    expect(guessOperation('SELECT 1; SELECT 2')).toEqual({ operation: 'query', multiStatement: true });
  });
});
