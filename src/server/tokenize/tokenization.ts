import { QsError } from '../../protocol/errors.js';
import type { SqlStatement, WireResult } from '../../protocol/wire.js';
import type { Executor } from '../executor/executor.js';
import type { TokenizationCatalogCheck } from '../integrations/integration-service.js';
import { parseSql } from '../policy/sql-parse.js';
import type { Tokenization } from '../proxy/data-plane.js';
import type { IntegrationRecord, Store, TokenizationField } from '../store/store.js';
import { IntegrationCatalog } from './catalog-cache.js';
import { executorCatalogQuery, withDirectCatalogQuery, type CatalogVault } from './catalog-query.js';
import { loadTables, tableKey, TEXT_TYPES, type TableInfo, type TableName } from './catalog.js';
import { buildInsert, checkInsertTarget, readInsertPayload } from './insert-records.js';
import { mapParameters } from './param-map.js';
import { mapArrayElements, parseArrayLiteral, serializeArrayLiteral } from './pg-array.js';
import { TokenService, type TokenKeySource, type TokenRead, type TokenVault } from './token-service.js';

/** What tokenization needs from the rest of the server (declared narrowly so tests can stand in). */
export interface TokenizationDeps {
  store: TokenVault & Pick<Store, 'onChange'>;
  tenantKeys: TokenKeySource;
  vault: CatalogVault;
  executor: Pick<Executor, 'run'>;
}

/** The data plane's tokenization step, plus the catalog check the integration service runs on save. */
export type TokenizationModule = Tokenization &
  Required<Pick<Tokenization, 'insertRecords'>> & {
    checkCatalog: TokenizationCatalogCheck;
  };

/**
 * Field-level tokenization (DESIGN §6): parameters bound to tokenized columns are tokenized before
 * the SQL runs, tokenized result columns (matched by tableID/columnID) are detokenized where the
 * integration says so, and tokenize_and_insert builds its own INSERT. Every failure closes.
 */
export function createTokenization(deps: TokenizationDeps): TokenizationModule {
  const tokens = new TokenService(deps.store, deps.tenantKeys);
  const catalogs = new Map<string, IntegrationCatalog>();
  // A rotated credential may point at another database, and changed fields at other tables.
  deps.store.onChange((n) => {
    if (n.topic === 'credential' || n.topic === 'integration') catalogs.clear();
  });

  const catalogFor = (tenantId: string, integration: IntegrationRecord): IntegrationCatalog => {
    const tables = uniqueTables(integration.tokenization.fields);
    const key = JSON.stringify([tenantId, integration.credentialId, integration.updatedAt, tables]);
    let catalog = catalogs.get(integration.id);
    if (catalog?.key !== key) {
      catalog = new IntegrationCatalog(key, executorCatalogQuery(deps.executor, deps.vault, tenantId, integration), tables);
      catalogs.set(integration.id, catalog);
    }
    return catalog;
  };

  return {
    async tokenizeParams(tenantId: string, integration: IntegrationRecord, statement: SqlStatement): Promise<SqlStatement> {
      const fields = integration.tokenization.fields;
      if (fields.length === 0) return statement;
      // Also for statements without parameters: the mapper refuses literals against tokenized columns.
      const map = mapParameters(statement.sql, fields);
      if (map.size === 0 || statement.params === undefined) return statement;
      const params = statement.params;
      const batch = await tokens.batch(tenantId);
      const out = params.slice();
      for (const [n, target] of map) {
        const value = params[n - 1];
        // A missing parameter is PostgreSQL's error to report; NULL stays NULL.
        if (value === undefined || value === null) continue;
        const tokenize = (v: string) => batch.tokenize(target, target.mode, v);
        out[n - 1] = target.array ? serializeArrayLiteral(mapArrayElements(parseArrayLiteral(value), tokenize)) : tokenize(value);
      }
      await batch.flush();
      return { ...statement, params: out };
    },

    async detokenizeResults(tenantId: string, integration: IntegrationRecord, results: WireResult[]): Promise<WireResult[]> {
      const wanted = new Map(integration.tokenization.fields.filter((f) => f.detokenize).map((f) => [columnKey(f.schema, f.table, f.column), f]));
      if (wanted.size === 0 || results.every((r) => r.rows.length === 0)) return results;
      const catalog = catalogFor(tenantId, integration);
      // Which columns of which result hold tokens to open.
      const plans: Array<Array<{ index: number; field: TokenizationField }>> = [];
      for (const result of results) {
        const plan: Array<{ index: number; field: TokenizationField }> = [];
        if (result.rows.length > 0) {
          for (const [index, f] of result.fields.entries()) {
            const resolved = await catalog.resolve(f.tableID, f.columnID);
            if (resolved === null) continue;
            const field = wanted.get(columnKey(resolved.table.schema, resolved.table.table, resolved.column.name));
            if (field === undefined) continue;
            if (f.format !== 'text') throw new QsError('QS_TOKENIZATION_UNSUPPORTED', `tokenized column ${field.schema}.${field.table}.${field.column} was read in binary format`);
            plan.push({ index, field });
          }
        }
        plans.push(plan);
      }
      if (plans.every((p) => p.length === 0)) return results;

      const reads: TokenRead[] = [];
      results.forEach((result, r) => {
        const plan = plans[r] ?? [];
        for (const row of result.rows) {
          for (const { index, field } of plan) {
            const text = row[index];
            if (text !== null && text !== undefined) reads.push({ column: field, text });
          }
        }
      });
      const values = await tokens.detokenize(tenantId, reads);
      // Same walk, same order: put the plaintexts back into copies of the rows.
      let next = 0;
      return results.map((result, r) => {
        const plan = plans[r] ?? [];
        if (plan.length === 0) return result;
        const rows = result.rows.map((row) => {
          const copy = row.slice();
          for (const { index } of plan) if (copy[index] !== null && copy[index] !== undefined) copy[index] = values[next++] ?? null;
          return copy;
        });
        return { ...result, rows };
      });
    },

    async insertRecords(tenantId: string, integration: IntegrationRecord, payload: unknown): Promise<{ statement: SqlStatement; fingerprint: string }> {
      const request = readInsertPayload(payload);
      const catalog = catalogFor(tenantId, integration);
      let table = await catalog.table(request);
      try {
        checkInsertTarget(request, table);
      } catch {
        // The cached view may predate a migration: look once more before refusing.
        table = await catalog.table(request, true);
        checkInsertTarget(request, table);
      }
      const byColumn = new Map(integration.tokenization.fields.map((f) => [columnKey(f.schema, f.table, f.column), f]));
      const tokenized = request.columns.map((c) => byColumn.get(columnKey(request.schema, request.table, c)));
      const batch = await tokens.batch(tenantId);
      const rows = request.rows.map((row) =>
        row.map((value, i) => {
          const field = tokenized[i];
          return field === undefined || value === null ? value : batch.tokenize(field, field.mode, value);
        }),
      );
      await batch.flush();
      const statement = buildInsert(request, rows);
      return { statement, fingerprint: parseSql(statement.sql).fingerprint };
    },

    async checkCatalog(tenantId: string, credentialId: string, fields: TokenizationField[]): Promise<void> {
      const { dsn } = await deps.vault.unsealDsn(tenantId, credentialId);
      const tables = await withDirectCatalogQuery(dsn, credentialId, (query) => loadTables(query, uniqueTables(fields)));
      const problems = fieldProblems(fields, tables);
      if (problems.length > 0) throw new QsError('QS_TOKENIZATION_CONFIG', `tokenization fields refused: ${problems.join('; ')}`);
    },
  };
}

/** Why each field cannot be tokenized (missing table or column, not a text type); empty when all can. */
export function fieldProblems(fields: readonly TokenizationField[], tables: readonly TableInfo[]): string[] {
  const byName = new Map(tables.map((t) => [tableKey(t), t]));
  const problems: string[] = [];
  for (const f of fields) {
    const name = `${f.schema}.${f.table}.${f.column}`;
    const table = byName.get(tableKey(f));
    const column = table?.columns.find((c) => c.name === f.column);
    if (table === undefined) problems.push(`${name}: table ${f.schema}.${f.table} does not exist (or is not a table)`);
    else if (column === undefined) problems.push(`${name}: column "${f.column}" does not exist`);
    else if (!TEXT_TYPES.has(column.type)) problems.push(`${name}: column has type ${column.type}, tokens need a text type (text, varchar, char, citext)`);
  }
  return problems;
}

function uniqueTables(fields: readonly TokenizationField[]): TableName[] {
  const seen = new Map<string, TableName>();
  for (const f of fields) seen.set(tableKey(f), { schema: f.schema, table: f.table });
  return [...seen.values()];
}

function columnKey(schema: string, table: string, column: string): string {
  return `${schema}\u0000${table}\u0000${column}`;
}
