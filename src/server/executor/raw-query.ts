import pg from 'pg';
import type { CustomTypesConfig, FieldDef, Submittable } from 'pg';
import { QsError } from '../../protocol/errors.js';
import type { SqlStatement, WireField, WireResult } from '../../protocol/wire.js';
import { diverterOf, type RowSink } from './row-diverter.js';
import { encodedRowsArray, RowJsonWriter } from './row-json.js';

/**
 * Runs one statement (or one simple-protocol multi-statement string) and returns PostgreSQL's
 * text values untouched, so the driver can apply pg's own type parsers on the other side
 * (DESIGN §5). Parsing here and serialising again would lose information (int8 precision,
 * timestamp formats, bytea's `\x…`).
 */

const identity = (value: string): string => value;

/** Every OID parses to itself: text in, text out. */
export const RAW_TYPES: CustomTypesConfig = {
  getTypeParser: (() => identity) as unknown as CustomTypesConfig['getTypeParser'],
};

/** The subset of a pg client this module needs (a pool client or a plain Client). */
export interface RawQueryable {
  query(submittable: Submittable): Submittable;
}

/** The subset of pg's Result we read; pg's own types omit `_types` and call oid a number. */
interface PgResult {
  command: string | null;
  rowCount: number | null;
  oid: number | null;
  fields: FieldDef[];
  rows: Array<Array<string | null>>;
}

/** What a statement to run looks like here: parameterized, or simple-protocol text. */
export type RawStatement = { kind: 'extended'; statement: SqlStatement } | { kind: 'simple'; sql: string };

export interface RawQueryOptions {
  /** Refuse any result with more rows than this (QS_MAX_ROWS). */
  maxRows?: number;
  /**
   * Rows as JSON text written from PostgreSQL's bytes (row-json.ts) instead of JS strings, where
   * the connection can divert them (the executor's pools) and the statement is parameterized.
   * Only for results nothing on the server reads row by row (no detokenization).
   */
  encodeRows?: boolean;
  /** Largest encoded rows text (default MAX_ENCODED_ROWS_BYTES); past it, QS_RESULT_TOO_LARGE. */
  maxEncodedBytes?: number;
}

function toWireField(f: FieldDef): WireField {
  return {
    name: f.name,
    tableID: f.tableID,
    columnID: f.columnID,
    dataTypeID: f.dataTypeID,
    dataTypeSize: f.dataTypeSize,
    dataTypeModifier: f.dataTypeModifier,
    format: f.format === 'binary' ? 'binary' : 'text',
  };
}

function toWireResult(r: PgResult): WireResult {
  return {
    // pg leaves command null for an empty query string; the wire type has no null.
    command: r.command ?? '',
    rowCount: r.rowCount,
    oid: r.oid,
    fields: r.fields.map(toWireField),
    rows: r.rows,
  };
}

/**
 * Runs `stmt` on `client` and resolves with one WireResult per statement PostgreSQL ran
 * (always one for `extended`). Rows are collected from pg's row events so that past
 * `maxRows` they are dropped as they arrive instead of piling up; the query still reads to
 * the end (so the connection stays usable) and then fails with QS_MAX_ROWS.
 */
export function runRaw(client: RawQueryable, stmt: RawStatement, options: RawQueryOptions = {}): Promise<WireResult[]> {
  const config =
    stmt.kind === 'extended'
      ? {
          text: stmt.statement.sql,
          values: stmt.statement.params ?? [],
          // Extended protocol even without parameters: it refuses a second statement hidden in
          // the text, a wall behind the classifier's one-statement rule.
          queryMode: 'extended',
          rowMode: 'array',
          types: RAW_TYPES,
        }
      : { text: stmt.sql, rowMode: 'array', types: RAW_TYPES };
  const query = new pg.Query(config as pg.QueryConfig);
  const maxRows = options.maxRows;
  let exceeded = false;
  let pgRows = 0;

  // Encoded rows: the connection's diverter takes this query's DataRows from the moment pg
  // dispatches it (Submittable.submit) until its ReadyForQuery.
  const diverter = options.encodeRows === true && stmt.kind === 'extended' ? diverterOf(client) : undefined;
  const writer = diverter === undefined ? undefined : new RowJsonWriter(undefined, options.maxEncodedBytes);
  /** Why the rows could not be encoded; the rest of them are still held back from pg. */
  let encodeError: unknown;
  // Runs inside the socket's 'data' listener: nothing may be thrown out of it.
  const sink: RowSink | undefined =
    writer === undefined
      ? undefined
      : (buf, start, end) => {
          if (encodeError !== undefined) return;
          if (maxRows !== undefined && writer.count >= maxRows) {
            exceeded = true;
            return;
          }
          try {
            writer.addRow(buf, start, end);
          } catch (err) {
            encodeError = err;
          }
        };
  let encoding = false;
  if (diverter !== undefined && sink !== undefined) {
    const submit = query.submit.bind(query);
    query.submit = (connection) => {
      encoding = diverter.divert(sink);
      return submit(connection);
    };
  }
  const stopDiverting = () => {
    if (diverter !== undefined && sink !== undefined) diverter.stop(sink);
  };

  return new Promise<WireResult[]>((resolve, reject) => {
    query.on('row', (row: Array<string | null>, result?: pg.ResultBuilder) => {
      pgRows++;
      if (result === undefined) return;
      if (maxRows !== undefined && result.rows.length >= maxRows) {
        exceeded = true;
        return;
      }
      result.rows.push(row);
    });
    query.on('error', (err: Error) => {
      stopDiverting();
      reject(err);
    });
    query.on('end', (results: pg.ResultBuilder | pg.ResultBuilder[]) => {
      stopDiverting();
      if (exceeded) {
        reject(new QsError('QS_MAX_ROWS', `the result has more than the integration's max_rows (${maxRows}) rows`));
        return;
      }
      if (encodeError !== undefined) {
        reject(encodeError instanceof QsError ? encodeError : new QsError('QS_INTERNAL', 'the rows of the result could not be encoded'));
        return;
      }
      const list = (Array.isArray(results) ? results : [results]) as unknown as PgResult[];
      const wire = list.map(toWireResult);
      // Not diverted after all (the connection was busy diverting): pg parsed the rows.
      if (writer === undefined || !encoding || (pgRows > 0 && writer.count === 0)) {
        resolve(wire);
        return;
      }
      const first = wire[0];
      // Rows reached pg and the writer both: half an answer is no answer.
      if (pgRows > 0 || first === undefined || wire.length !== 1) {
        reject(new QsError('QS_INTERNAL', 'rows of a query reached the driver while they were being diverted'));
        return;
      }
      first.rows = encodedRowsArray(writer.finish());
      resolve(wire);
    });
    client.query(query);
  });
}
