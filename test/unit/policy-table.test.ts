import { describe, expect, it } from 'vitest';
import { isQsError } from '../../src/protocol/errors.js';
import type { QsErrorCode } from '../../src/protocol/error-codes.js';
import type { Operation } from '../../src/protocol/wire.js';
import { checkOperation, checkStatementInSession, startsReadWriteTransaction } from '../../src/server/policy/enforce.js';
import { FORBIDDEN_FUNCTION_RULES, forbiddenFunctionReason } from '../../src/server/policy/forbidden-functions.js';
import type { StatementKind } from '../../src/server/policy/classify.js';

const ALL: Operation[] = ['query', 'execute', 'transaction', 'ddl'];
const APP: Operation[] = ['query', 'execute', 'transaction'];
const READ_TX: Operation[] = ['query', 'transaction'];

interface Row {
  readonly op: Operation;
  readonly sql: string;
  readonly allowed?: readonly Operation[];
  readonly inSession?: boolean;
  /** The kinds of the admitted statements, in order, or the refusal's code. */
  readonly expect: readonly StatementKind[] | QsErrorCode;
}

const ROWS: readonly Row[] = [
  // query
  { op: 'query', sql: 'SELECT 1', expect: ['query'] },
  { op: 'query', sql: 'sElEcT\n\t1', expect: ['query'] },
  { op: 'query', sql: '/* x */ SELECT 1 -- y', expect: ['query'] },
  { op: 'query', sql: 'SELECT * FROM users WHERE id = $1', expect: ['query'] },
  { op: 'query', sql: 'TABLE users', expect: ['query'] },
  { op: 'query', sql: 'VALUES (1, 2), (3, 4)', expect: ['query'] },
  { op: 'query', sql: 'SELECT 1 UNION ALL SELECT 2', expect: ['query'] },
  { op: 'query', sql: 'WITH x AS (SELECT 1 AS a) SELECT a FROM x', expect: ['query'] },
  { op: 'query', sql: 'SHOW search_path', expect: ['query'] },
  { op: 'query', sql: 'SHOW TIME ZONE', expect: ['query'] },
  { op: 'query', sql: 'SHOW server_version', expect: ['query'] },
  { op: 'query', sql: 'SHOW ALL', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SHOW data_directory', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT 1; DELETE FROM t', expect: 'QS_MULTI_STATEMENT' },
  { op: 'query', sql: 'SELECT 1; SELECT 2', expect: 'QS_MULTI_STATEMENT' },
  { op: 'query', sql: 'DELETE FROM t', expect: 'QS_OPERATION_MISMATCH' },
  { op: 'query', sql: 'WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x', expect: 'QS_OPERATION_MISMATCH' },
  { op: 'query', sql: 'SELECT * FROM (WITH d AS (UPDATE t SET a = 1 RETURNING a) SELECT a FROM d) s', expect: 'QS_OPERATION_MISMATCH' },
  { op: 'query', sql: 'SELECT * INTO copy_t FROM t', expect: 'QS_OPERATION_MISMATCH' },
  { op: 'query', sql: 'SELECT * FROM t FOR UPDATE', expect: 'QS_OPERATION_MISMATCH' },
  { op: 'query', sql: 'SELECT * FROM t FOR UPDATE', inSession: true, expect: ['query'] },
  { op: 'query', sql: 'SELECT * FROM (SELECT * FROM t FOR SHARE) s', expect: 'QS_OPERATION_MISMATCH' },
  { op: 'query', sql: "SELECT set_config('role', 'admin', false)", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT pg_catalog.pg_read_file('/etc/passwd')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  // functions that run SQL the policy never sees, or act outside the app's data: refused anywhere
  { op: 'query', sql: "SELECT query_to_xml('select set_config(''role'',''pg_read_all_data'',false)',true,true,'')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT query_to_xml($1, true, true, '')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT query_to_xml(format('select %s', $1), true, true, '')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT pg_catalog.query_to_xml($1, true, true, '')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT "query_to_xml"($1, true, true, $$$$)', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT PG_CATALOG.Query_To_Xml($1, true, true, '')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT query_to_xml_and_xmlschema($1, true, true, '')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT query_to_xmlschema($1, true, true, '')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT cursor_to_xml('c', 10, true, true, '')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT cursor_to_xmlschema('c', true, true, '')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT table_to_xml('users', true, true, '')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT table_to_xml_and_xmlschema('users', true, true, '')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT schema_to_xml('public', true, true, '')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT database_to_xmlschema(true, true, '')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT * FROM users WHERE id IN (SELECT (xpath('//id/text()', query_to_xml($1, true, true, '')))[1]::text::int)", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT * FROM ts_stat('select to_tsvector(body) from docs')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT ts_rewrite('a & b'::tsquery, 'select t, s from aliases')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT ts_rewrite('a & b'::tsquery, 'a'::tsquery, 'c'::tsquery)", expect: ['query'] },
  { op: 'query', sql: "SELECT pg_notify('chan', $1)", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT lo_import('/etc/passwd')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT lo_export(16385, '/tmp/x')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT lo_get(16385)', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT lo_from_bytea(0, $1)', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT lo_put(16385, 0, $1)', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT lo_unlink(16385)', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT loread(lo_open(16385, 262144), 100)', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT * FROM dblink('dbname=x', 'select 1') AS t(a int)", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT dblink_send_query('c', 'select 1')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT pg_create_logical_replication_slot('s', 'test_decoding')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT pg_create_physical_replication_slot('s')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT pg_drop_replication_slot('s')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT pg_replication_origin_create('o')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT pg_logical_emit_message(true, 'p', $1)", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT * FROM pg_logical_slot_get_changes('s', NULL, NULL)", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT pg_cancel_backend($1)', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT pg_signal_backend($1, 15)', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT pg_promote()', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT pg_switch_wal()', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT pg_create_restore_point('x')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT pg_start_backup('x')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT pg_backup_start('x')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT pg_stop_backup()', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT * FROM pg_backup_stop()', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT pg_stat_reset()', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT pg_stat_reset_shared('bgwriter')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT * FROM pg_ls_dir('.')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT * FROM pg_ls_waldir()', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT pg_read_binary_file('postgresql.conf')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT pg_stat_file('postgresql.conf')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT pg_file_write('x', 'y', false)", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT pg_reload_conf()', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT pg_rotate_logfile()', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT pg_catalog.set_config('search_path', $1, false)", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT \"SET_CONFIG\"('role', 'admin', true)", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT pg_import_system_collations($1)', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: 'SELECT pg_sleep(0.1)', expect: ['query'] },
  { op: 'execute', sql: "UPDATE t SET a = set_config('role', 'admin', false)", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'execute', sql: "INSERT INTO t (a) SELECT pg_read_file('/etc/passwd')", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'execute', sql: "WITH x AS (SELECT query_to_xml($1, true, true, '') AS q) INSERT INTO t (a) SELECT q::text FROM x", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'execute', sql: "UPDATE pg_settings SET setting = 'pg_read_all_data' WHERE name = 'role'", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'execute', sql: "UPDATE pg_catalog.pg_settings SET setting = $1 WHERE name = 'search_path'", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'execute', sql: "WITH s AS (UPDATE pg_settings SET setting = $1 WHERE name = 'role' RETURNING 1) SELECT * FROM s", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'execute', sql: "DELETE FROM pg_catalog.pg_authid WHERE rolname = $1", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'query', sql: "SELECT setting FROM pg_settings WHERE name = 'TimeZone'", expect: ['query'] },
  { op: 'transaction', sql: "BEGIN; SELECT query_to_xml('select 1', true, true, ''); COMMIT", inSession: true, expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'ddl', sql: "CREATE FUNCTION f() RETURNS xml LANGUAGE sql BEGIN ATOMIC SELECT query_to_xml('select 1', true, true, ''); END", allowed: ALL, expect: 'QS_STATEMENT_NOT_ALLOWED' },

  // setval writes: it needs `execute` (a SELECT calling it is classified as one)
  { op: 'query', sql: "SELECT setval('t_id_seq', 1)", expect: 'QS_OPERATION_MISMATCH' },
  { op: 'execute', sql: "SELECT setval('t_id_seq', 1)", expect: ['execute'] },
  { op: 'transaction', sql: "SELECT setval('t_id_seq', $1)", allowed: READ_TX, expect: 'QS_OPERATION_DENIED' },
  { op: 'query', sql: "SELECT nextval('t_id_seq')", expect: ['query'] },

  // session-level state functions: only on a session
  { op: 'query', sql: 'SELECT pg_try_advisory_lock_shared(1)', expect: 'QS_OPERATION_MISMATCH' },
  { op: 'query', sql: 'SELECT pg_advisory_unlock_all()', expect: 'QS_OPERATION_MISMATCH' },
  { op: 'query', sql: 'SELECT pg_advisory_unlock(1)', inSession: true, expect: ['query'] },
  { op: 'query', sql: 'SELECT setseed(0.5)', expect: 'QS_OPERATION_MISMATCH' },
  { op: 'query', sql: 'SET search_path TO x', expect: 'QS_OPERATION_MISMATCH' },
  { op: 'query', sql: 'SELECT pg_advisory_lock(1)', expect: 'QS_OPERATION_MISMATCH' },
  { op: 'query', sql: 'SELECT pg_advisory_lock(1)', inSession: true, expect: ['query'] },
  { op: 'transaction', sql: 'BEGIN; SELECT pg_advisory_lock(1); COMMIT', expect: 'QS_OPERATION_MISMATCH' },
  { op: 'query', sql: 'SELECT pg_advisory_xact_lock(1)', expect: ['query'] },
  { op: 'query', sql: 'SELEC 1', expect: 'QS_SQL_SYNTAX' },
  { op: 'query', sql: "SELECT 'unterminated", expect: 'QS_SQL_SYNTAX' },
  { op: 'query', sql: '', expect: 'QS_SQL_SYNTAX' },
  { op: 'query', sql: '  -- only a comment\n', expect: 'QS_SQL_SYNTAX' },
  { op: 'query', sql: 'SELECT 1', allowed: [], expect: 'QS_OPERATION_DENIED' },
  { op: 'query', sql: 'not even sql', allowed: ['execute'], expect: 'QS_OPERATION_DENIED' },

  // execute
  { op: 'execute', sql: 'INSERT INTO t (a) VALUES ($1) RETURNING id', expect: ['execute'] },
  { op: 'execute', sql: 'UPDATE t SET a = $1 WHERE id = $2', expect: ['execute'] },
  { op: 'execute', sql: 'DELETE FROM t WHERE id = $1 RETURNING *', expect: ['execute'] },
  { op: 'execute', sql: 'WITH d AS (DELETE FROM t RETURNING *) INSERT INTO t_archive SELECT * FROM d', expect: ['execute'] },
  { op: 'execute', sql: 'WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x', expect: ['execute'] },
  { op: 'execute', sql: 'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', expect: ['execute'] },
  { op: 'execute', sql: 'SELECT 1', expect: 'QS_OPERATION_MISMATCH' },
  { op: 'execute', sql: 'INSERT INTO t VALUES (1); DROP TABLE t', expect: 'QS_MULTI_STATEMENT' },
  { op: 'execute', sql: 'CREATE TABLE t (a int)', expect: 'QS_OPERATION_MISMATCH' },
  { op: 'execute', sql: 'LOCK TABLE t IN EXCLUSIVE MODE', expect: 'QS_OPERATION_MISMATCH' },
  { op: 'execute', sql: 'LOCK TABLE t IN EXCLUSIVE MODE', inSession: true, expect: ['execute'] },
  { op: 'execute', sql: 'COPY t FROM STDIN', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'execute', sql: "COPY t TO '/tmp/x'", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'execute', sql: 'DO $$BEGIN PERFORM 1; END$$', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'execute', sql: 'CALL p()', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'execute', sql: 'LISTEN chan', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'execute', sql: "NOTIFY chan, 'x'", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'execute', sql: 'VACUUM t', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'execute', sql: "PREPARE p AS SELECT 1", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'execute', sql: 'DISCARD ALL', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'execute', sql: "ALTER SYSTEM SET work_mem = '1GB'", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'execute', sql: 'INSERT INTO t (a) VALUES (1)', allowed: ['query'], expect: 'QS_OPERATION_DENIED' },

  // ddl
  { op: 'ddl', sql: 'CREATE TABLE t (a int)', allowed: ALL, expect: ['ddl'] },
  { op: 'ddl', sql: 'ALTER TABLE t ADD COLUMN b text', allowed: ALL, expect: ['ddl'] },
  { op: 'ddl', sql: 'CREATE INDEX ON t (a)', allowed: ALL, expect: ['ddl'] },
  { op: 'ddl', sql: 'TRUNCATE t', allowed: ALL, expect: ['ddl'] },
  { op: 'ddl', sql: 'GRANT SELECT ON t TO app', allowed: ALL, expect: ['ddl'] },
  { op: 'ddl', sql: 'CREATE TABLE c AS SELECT * FROM t', allowed: ALL, expect: ['ddl'] },
  { op: 'ddl', sql: 'SELECT * INTO copy_t FROM t', allowed: ALL, expect: ['ddl'] },
  { op: 'ddl', sql: "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", allowed: ALL, expect: ['ddl'] },
  { op: 'ddl', sql: "CREATE FUNCTION f() RETURNS int LANGUAGE c AS 'lib', 'f'", allowed: ALL, expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'ddl', sql: 'CREATE ROLE admin SUPERUSER', allowed: ALL, expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'ddl', sql: 'CREATE TABLE t (a int); CREATE INDEX ON t (a)', allowed: ALL, expect: 'QS_MULTI_STATEMENT' },
  { op: 'ddl', sql: 'DROP TABLE t', expect: 'QS_OPERATION_DENIED' },
  { op: 'ddl', sql: 'SELECT 1', allowed: ALL, expect: 'QS_OPERATION_MISMATCH' },

  // transaction: multi-statement strings, each statement under its own kind
  { op: 'transaction', sql: 'BEGIN', expect: ['transaction'] },
  { op: 'transaction', sql: 'BEGIN ISOLATION LEVEL SERIALIZABLE', expect: ['transaction'] },
  { op: 'transaction', sql: 'START TRANSACTION READ ONLY', expect: ['transaction'] },
  { op: 'transaction', sql: 'SAVEPOINT a', expect: ['transaction'] },
  { op: 'transaction', sql: 'ROLLBACK TO SAVEPOINT a', expect: ['transaction'] },
  { op: 'transaction', sql: 'RELEASE a', expect: ['transaction'] },
  { op: 'transaction', sql: 'COMMIT', expect: ['transaction'] },
  { op: 'transaction', sql: 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ', expect: ['transaction'] },
  // READ WRITE transactions need a write permission: they would undo a read-only connection
  { op: 'transaction', sql: 'BEGIN READ WRITE', expect: ['transaction'] },
  { op: 'transaction', sql: 'BEGIN READ WRITE', allowed: READ_TX, expect: 'QS_OPERATION_DENIED' },
  { op: 'transaction', sql: 'BEGIN READ WRITE', allowed: READ_TX, inSession: true, expect: 'QS_OPERATION_DENIED' },
  { op: 'transaction', sql: 'START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE', allowed: READ_TX, expect: 'QS_OPERATION_DENIED' },
  { op: 'transaction', sql: 'BEGIN TRANSACTION READ ONLY, READ WRITE', allowed: READ_TX, expect: 'QS_OPERATION_DENIED' },
  { op: 'transaction', sql: 'SET TRANSACTION READ WRITE', allowed: READ_TX, expect: 'QS_OPERATION_DENIED' },
  { op: 'transaction', sql: 'BEGIN; SET TRANSACTION READ WRITE; SELECT 1; COMMIT', allowed: READ_TX, expect: 'QS_OPERATION_DENIED' },
  { op: 'transaction', sql: 'SET TRANSACTION READ WRITE', allowed: ['query', 'transaction', 'ddl'], expect: ['transaction'] },
  { op: 'transaction', sql: 'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE', allowed: READ_TX, inSession: true, expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'transaction', sql: 'SET transaction_read_only = off', allowed: READ_TX, inSession: true, expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'transaction', sql: 'BEGIN READ ONLY', allowed: READ_TX, expect: ['transaction'] },
  { op: 'transaction', sql: 'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE READ ONLY', allowed: READ_TX, expect: ['transaction'] },
  { op: 'transaction', sql: 'BEGIN', allowed: READ_TX, expect: ['transaction'] },
  { op: 'transaction', sql: "PREPARE TRANSACTION 'x'", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'transaction', sql: "COMMIT PREPARED 'x'", expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'transaction', sql: 'BEGIN; INSERT INTO t (a) VALUES (1); COMMIT', expect: ['transaction', 'execute', 'transaction'] },
  { op: 'transaction', sql: 'BEGIN; INSERT INTO t (a) VALUES (1); COMMIT', allowed: READ_TX, expect: 'QS_OPERATION_DENIED' },
  { op: 'transaction', sql: 'SELECT 1; DELETE FROM t', expect: ['query', 'execute'] },
  { op: 'transaction', sql: 'SELECT 1; DELETE FROM t', allowed: READ_TX, expect: 'QS_OPERATION_DENIED' },
  { op: 'transaction', sql: 'BEGIN; DROP TABLE t; COMMIT', expect: 'QS_OPERATION_DENIED' },
  { op: 'transaction', sql: 'BEGIN; DROP TABLE t; COMMIT', allowed: ALL, expect: ['transaction', 'ddl', 'transaction'] },
  { op: 'transaction', sql: 'SELECT 1; COPY t TO STDOUT', expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'transaction', sql: 'SELECT * FROM t FOR UPDATE; UPDATE t SET a = 1', expect: ['query', 'execute'] },
  { op: 'transaction', sql: 'BEGIN', allowed: ['query', 'execute'], expect: 'QS_OPERATION_DENIED' },

  // session settings
  { op: 'transaction', sql: 'SET LOCAL statement_timeout = 5', expect: ['session_setting'] },
  { op: 'transaction', sql: 'BEGIN; SET LOCAL search_path TO app; SELECT 1; COMMIT', expect: ['transaction', 'session_setting', 'query', 'transaction'] },
  { op: 'transaction', sql: 'SET search_path TO x', expect: 'QS_OPERATION_MISMATCH' },
  { op: 'transaction', sql: 'SET search_path TO x', inSession: true, expect: ['session_setting'] },
  { op: 'transaction', sql: "SET TIME ZONE 'UTC'", inSession: true, expect: ['session_setting'] },
  { op: 'transaction', sql: 'SET application_name = $$app$$', inSession: true, expect: ['session_setting'] },
  { op: 'transaction', sql: 'RESET statement_timeout', inSession: true, expect: ['session_setting'] },
  { op: 'transaction', sql: 'SET STATEMENT_TIMEOUT = 0', inSession: true, expect: ['session_setting'] },
  { op: 'transaction', sql: "SET client_encoding = 'LATIN1'", inSession: true, expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'transaction', sql: 'SET ROLE admin', inSession: true, expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'transaction', sql: 'SET SESSION AUTHORIZATION admin', inSession: true, expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'transaction', sql: 'RESET ALL', inSession: true, expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'transaction', sql: 'SET default_transaction_read_only = off', inSession: true, expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'transaction', sql: 'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE', inSession: true, expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'transaction', sql: 'SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE', inSession: true, expect: ['transaction'] },
  { op: 'transaction', sql: 'SET work_mem = 1000000', inSession: true, expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'transaction', sql: "LOAD 'plugin'", inSession: true, expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'transaction', sql: 'CHECKPOINT', inSession: true, expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'transaction', sql: 'EXECUTE p', inSession: true, expect: 'QS_STATEMENT_NOT_ALLOWED' },
  { op: 'transaction', sql: 'UNLISTEN *', inSession: true, expect: 'QS_STATEMENT_NOT_ALLOWED' },

  // tokenize_and_insert carries no SQL
  { op: 'tokenize_and_insert', sql: 'SELECT 1', allowed: ['tokenize_and_insert'], expect: 'QS_OPERATION_MISMATCH' },
];

function outcome(row: Row): readonly StatementKind[] | QsErrorCode {
  try {
    const result = checkOperation({ operation: row.op, sql: row.sql, allowedOperations: row.allowed ?? APP, inSession: row.inSession ?? false });
    return result.statements.map((s) => s.kind);
  } catch (err) {
    if (isQsError(err)) return err.code;
    throw err;
  }
}

describe('checkOperation policy table', () => {
  it('has enough rows to mean something', () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(45);
  });

  it.each(ROWS.map((row) => [`${row.op}${row.inSession === true ? ' (session)' : ''}: ${JSON.stringify(row.sql)}`, row] as const))('%s', (_name, row) => {
    expect(outcome(row)).toEqual(row.expect);
  });
});

describe('checkOperation details', () => {
  it('checks the operation before parsing, so unparseable SQL under a denied operation is DENIED', () => {
    expect(outcome({ op: 'ddl', sql: ')))', expect: [] })).toBe('QS_OPERATION_DENIED');
  });

  it('keeps the registry SQLSTATE: 42601 for syntax, 42501 for policy refusals', () => {
    const codes: Array<[string, Operation, string]> = [
      ['SELEC 1', 'query', '42601'],
      ['', 'query', '42601'],
      ['DELETE FROM t', 'query', '42501'],
      ['SELECT 1; SELECT 2', 'query', '42501'],
      ['COPY t FROM STDIN', 'execute', '42501'],
      ['DROP TABLE t', 'ddl', '42501'],
    ];
    for (const [sql, op, sqlstate] of codes) {
      let caught: unknown;
      try {
        checkOperation({ operation: op, sql, allowedOperations: APP, inSession: false });
      } catch (err) {
        caught = err;
      }
      expect(isQsError(caught), sql).toBe(true);
      expect((caught as { sqlstate: string }).sqlstate, sql).toBe(sqlstate);
    }
  });

  it('reports the parser message and, as PostgreSQL does, the 1-based position in its own field', () => {
    let caught: unknown;
    try {
      checkOperation({ operation: 'query', sql: 'SELECT * FROM t WHERE', allowedOperations: APP, inSession: false });
    } catch (err) {
      caught = err;
    }
    expect((caught as Error).message).toBe('syntax error at end of input');
    expect((caught as { pgFields?: unknown }).pgFields).toEqual({ position: '22' });
    // Positions count characters, not UTF-8 bytes.
    try {
      checkOperation({ operation: 'query', sql: "SELECT 'ü' FRO x", allowedOperations: APP, inSession: false });
    } catch (err) {
      caught = err;
    }
    expect((caught as { pgFields?: unknown }).pgFields).toEqual({ position: '16' });
  });

  it('names both kinds in a mismatch', () => {
    expect(() => checkOperation({ operation: 'query', sql: 'DELETE FROM t', allowedOperations: APP, inSession: false })).toThrow(/DELETE \(kind "execute"\).*"query"/);
  });

  it('splits a multi-statement string into each statement text and one fingerprint', () => {
    const result = checkOperation({ operation: 'transaction', sql: "BEGIN; INSERT INTO t (a) VALUES ('é€'); COMMIT", allowedOperations: APP, inSession: false });
    expect(result.statements.map((s) => [s.sql, s.operation])).toEqual([
      ['BEGIN', 'transaction'],
      ["INSERT INTO t (a) VALUES ('é€')", 'execute'],
      ['COMMIT', 'transaction'],
    ]);
    expect(result.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('accepts several statements of the operation kind when multiStatementAllowed is set', () => {
    const result = checkOperation({ operation: 'ddl', sql: 'CREATE TABLE t (a int); CREATE INDEX ON t (a)', allowedOperations: ALL, inSession: false, multiStatementAllowed: true });
    expect(result.statements).toHaveLength(2);
  });
});

describe('READ WRITE transactions', () => {
  it.each([
    ['BEGIN READ WRITE', true],
    ['start transaction isolation level repeatable read, read write', true],
    ['SET TRANSACTION READ WRITE', true],
    ['BEGIN; SET TRANSACTION READ WRITE', true],
    ['BEGIN', false],
    ['BEGIN READ ONLY', false],
    ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', false],
    ['SELECT 1', false],
    ['not sql', false],
  ] as const)('startsReadWriteTransaction(%j) is %s', (sql, expected) => {
    expect(startsReadWriteTransaction(sql)).toBe(expected);
  });

  it('flags the checked statement and names the permission it lacks', () => {
    const ok = checkOperation({ operation: 'transaction', sql: 'BEGIN READ WRITE; SELECT 1', allowedOperations: APP, inSession: true });
    expect(ok.statements.map((s) => s.readWrite)).toEqual([true, false]);
    expect(() => checkStatementInSession('BEGIN READ WRITE', READ_TX)).toThrow(/BEGIN READ WRITE needs a write permission/);
  });
});

describe('forbidden functions', () => {
  it('names the function and why in the refusal', () => {
    expect(() => checkOperation({ operation: 'query', sql: "SELECT pg_catalog.\"query_to_xml\"($1, true, true, '')", allowedOperations: APP, inSession: false })).toThrow(
      /^SELECT is not allowed: query_to_xml\(\) runs a query given as text/,
    );
  });

  it('keeps every rule with a reason', () => {
    for (const rule of FORBIDDEN_FUNCTION_RULES) expect(rule.reason.length, String(rule.match)).toBeGreaterThan(10);
    expect(forbiddenFunctionReason('LO_CREAT', 1)).toMatch(/large-object/);
    expect(forbiddenFunctionReason('pg_sleep', 1)).toBeUndefined();
    expect(forbiddenFunctionReason('pg_advisory_xact_lock', 1)).toBeUndefined();
    expect(forbiddenFunctionReason('logical_name', 1)).toBeUndefined();
  });
});

describe('checkStatementInSession', () => {
  const session = (sql: string, allowed: readonly Operation[] = APP) => {
    try {
      return checkStatementInSession(sql, allowed).statements.map((s) => `${s.kind}:${s.operation}`);
    } catch (err) {
      if (isQsError(err)) return err.code;
      throw err;
    }
  };

  it.each([
    ['INSERT INTO t (a) VALUES ($1)', APP, ['execute:execute']],
    ['SELECT * FROM t FOR UPDATE', APP, ['query:query']],
    ['BEGIN', APP, ['transaction:transaction']],
    ['SET search_path TO app', APP, ['session_setting:transaction']],
    ['SET search_path TO app', ['query'], ['session_setting:query']],
    ['BEGIN; SELECT 1', READ_TX, ['transaction:transaction', 'query:query']],
    ['INSERT INTO t (a) VALUES (1)', READ_TX, 'QS_OPERATION_DENIED'],
    ['BEGIN', ['query', 'execute'], 'QS_OPERATION_DENIED'],
    ['SET ROLE admin', APP, 'QS_STATEMENT_NOT_ALLOWED'],
    ['CREATE TABLE t (a int)', APP, 'QS_OPERATION_DENIED'],
    ['SELECT 1', [], 'QS_OPERATION_DENIED'],
    ['SELEC 1', APP, 'QS_SQL_SYNTAX'],
  ] as const)('%s under %j', (sql, allowed, expected) => {
    expect(session(sql, allowed)).toEqual(expected);
  });
});
