import { loadTables, tableKey, type CatalogQuery, type ColumnInfo, type TableInfo, type TableName } from './catalog.js';

/** How many "not a tokenized table" oids one integration remembers before starting over. */
const MAX_OTHER_OIDS = 10_000;

/** A result column resolved to its table and column. */
export interface ResolvedColumn {
  readonly table: TableInfo;
  readonly column: ColumnInfo;
}

/**
 * One integration's view of its database's catalog, filled on demand and refreshed when the
 * database shows something it does not know (a new tableID, a new attnum): a table dropped and
 * recreated gets a new oid, so a stale entry is never trusted for a tokenized column.
 */
export class IntegrationCatalog {
  readonly #byOid = new Map<number, TableInfo>();
  readonly #byName = new Map<string, TableInfo>();
  // tableIDs seen in results that a fresh catalog read showed are no tokenized table: no re-read for them.
  readonly #other = new Set<number>();
  #refreshing: Promise<void> | null = null;

  /**
   * @param key what the view was built for (credential and field configuration); a different key
   *   means a new view
   * @param tokenizedTables the tables of the integration's tokenized fields
   */
  constructor(
    readonly key: string,
    private readonly query: CatalogQuery,
    private readonly tokenizedTables: readonly TableName[],
  ) {}

  /** The table and column behind a RowDescription field, or null when it is no column of a tokenized table. */
  async resolve(tableID: number, columnID: number): Promise<ResolvedColumn | null> {
    // tableID 0: a computed value, not a column.
    if (tableID === 0) return null;
    const hit = this.#lookup(tableID, columnID);
    if (hit !== undefined) return hit;
    if (this.#other.has(tableID)) return null;
    await this.refreshTokenized();
    const again = this.#lookup(tableID, columnID);
    if (again !== undefined) return again;
    if (this.#other.size >= MAX_OTHER_OIDS) this.#other.clear();
    this.#other.add(tableID);
    return null;
  }

  /** A table by name, read from the catalog when unknown or when `fresh` is asked; undefined when it does not exist. */
  async table(name: TableName, fresh = false): Promise<TableInfo | undefined> {
    const cached = this.#byName.get(tableKey(name));
    if (cached !== undefined && !fresh) return cached;
    await this.#load([name]);
    return this.#byName.get(tableKey(name));
  }

  /** Re-reads the tokenized tables (concurrent callers share one read). */
  refreshTokenized(): Promise<void> {
    this.#refreshing ??= this.#load(this.tokenizedTables).finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  #lookup(tableID: number, columnID: number): ResolvedColumn | undefined {
    const table = this.#byOid.get(tableID);
    const column = table?.columns.find((c) => c.attnum === columnID);
    return table !== undefined && column !== undefined ? { table, column } : undefined;
  }

  async #load(names: readonly TableName[]): Promise<void> {
    const tables = await loadTables(this.query, names);
    for (const name of names) {
      const old = this.#byName.get(tableKey(name));
      if (old === undefined) continue;
      this.#byName.delete(tableKey(name));
      this.#byOid.delete(old.oid);
    }
    for (const t of tables) {
      this.#byName.set(tableKey(t), t);
      this.#byOid.set(t.oid, t);
      this.#other.delete(t.oid);
    }
  }
}
