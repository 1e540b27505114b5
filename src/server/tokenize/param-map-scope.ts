import { ABSENT, PLAIN, tokenizedField } from './param-map-types.js';
import type { ResolvedField, Resolution, TokenizedField } from './param-map-types.js';

/**
 * Name resolution for the parameter mapper: which tokenized column, if any, a column reference
 * in a statement stands for. It mirrors PostgreSQL's rules closely enough to be right for what
 * apps write, and where the proxy cannot know (no catalog: an unqualified name in a join of
 * several tables) it answers `ambiguous` so the caller refuses rather than guesses.
 */

/** The tokenized fields of an integration, indexed by table and column. */
export class FieldIndex {
  readonly #byTable = new Map<string, ResolvedField[]>();

  constructor(fields: readonly TokenizedField[]) {
    for (const f of fields) {
      const schema = f.schema ?? 'public';
      const resolved: ResolvedField = { schema, table: f.table, column: f.column, mode: f.mode, key: `${schema}.${f.table}.${f.column}` };
      const list = this.#byTable.get(f.table) ?? [];
      list.push(resolved);
      this.#byTable.set(f.table, list);
    }
  }

  /**
   * The tokenized fields of a table. An unqualified table could be in any schema on the search
   * path, so it matches the table name in every schema (tokenizing too much fails safe; too
   * little would leak), preferring `public` when two schemas configure the same column.
   */
  fieldsOf(schema: string | undefined, table: string): ResolvedField[] {
    const all = this.#byTable.get(table) ?? [];
    if (schema !== undefined) return all.filter((f) => f.schema === schema);
    const byColumn = new Map<string, ResolvedField>();
    for (const f of all) {
      const seen = byColumn.get(f.column);
      if (seen === undefined || (f.schema === 'public' && seen.schema !== 'public')) byColumn.set(f.column, f);
    }
    return [...byColumn.values()];
  }

  /** The tokenized field for `table.column`, if configured. */
  lookup(schema: string | undefined, table: string, column: string): ResolvedField | undefined {
    return this.fieldsOf(schema, table).find((f) => f.column === column);
  }
}

/** One output column of a derived table (subquery, CTE, RETURNING list). */
export interface OutputColumn {
  readonly name: string | undefined;
  readonly res: Resolution;
}

/** The output columns of a derived table; `open` when `*` made the list incomplete. */
export interface Outputs {
  readonly columns: readonly OutputColumn[];
  readonly open: boolean;
}

/** A FROM item as seen by name resolution. */
export interface Source {
  /** The name a column reference qualifies it with (alias, or the table/CTE name). */
  readonly name: string;
  /** For an unaliased base table: its relname and schema, for `schema.table.column` references. */
  readonly relation?: { readonly schema: string | undefined; readonly table: string };
  /** What `column` of this source stands for. */
  lookup(column: string): Resolution;
  /** Its known tokenized (or tainted) columns, for `*` and `alias.*`. */
  starColumns(): OutputColumn[];
}

/** A base table: any column may exist (no catalog), the configured ones are tokenized. */
export function tableSource(index: FieldIndex, schema: string | undefined, table: string, alias: string | undefined): Source {
  const fields = index.fieldsOf(schema, table);
  const source: Source = {
    name: alias ?? table,
    lookup: (column) => {
      const field = fields.find((f) => f.column === column);
      return field === undefined ? PLAIN : { kind: 'field', field };
    },
    starColumns: () => fields.map((field) => ({ name: field.column, res: { kind: 'field', field } })),
  };
  return alias === undefined ? { ...source, relation: { schema, table } } : source;
}

/** A derived table (subquery, CTE, VALUES, RETURNING) with known output columns. */
export function derivedSource(name: string, outputs: Outputs): Source {
  return {
    name,
    lookup: (column) => {
      const matches = outputs.columns.filter((c) => c.name === column);
      const first = matches.find((c) => c.res.kind !== 'plain') ?? matches[0];
      if (first !== undefined) return first.res;
      return outputs.open ? PLAIN : ABSENT;
    },
    starColumns: () => outputs.columns.filter((c) => c.res.kind !== 'plain'),
  };
}

/** A source whose columns carry nothing tokenized (set-returning functions, table samples of untokenized tables). */
export function opaqueSource(name: string): Source {
  return { name, lookup: () => PLAIN, starColumns: () => [] };
}

/** A join with an alias: its columns are the union of both sides'. */
export function joinSource(name: string, sides: readonly Source[]): Source {
  return {
    name,
    lookup: (column) => combine(column, sides.map((s) => s.lookup(column))),
    starColumns: () => sides.flatMap((s) => s.starColumns()),
  };
}

/**
 * Applies a column alias list (`AS s(a, b)`, `WITH x(a, b) AS …`): names are given by position;
 * columns past the list keep their names.
 */
export function renameColumns(outputs: Outputs, colnames: readonly string[]): Outputs {
  if (colnames.length === 0) return outputs;
  if (outputs.open) {
    // Over `*` the positions are unknown: any renamed column may be a tokenized one, and the
    // tokenized columns may also still carry their own names (when they sit past the list).
    const field = outputs.columns.map((c) => tokenizedField(c.res)).find((f) => f !== undefined);
    const res: Resolution = field === undefined ? PLAIN : { kind: 'tainted', field, why: 'renamed by a column alias list over *' };
    const renamed = colnames.map((name) => ({ name, res }));
    return { columns: [...renamed, ...outputs.columns], open: true };
  }
  const columns = outputs.columns.map((c, i) => ({ name: colnames[i] ?? c.name, res: c.res }));
  return { columns, open: false };
}

/** Combines the candidates for one unqualified name: one answer, or ambiguous when a tokenized one is among several. */
function combine(name: string, results: readonly Resolution[]): Resolution {
  const present = results.filter((r) => r.kind !== 'absent');
  const first = present[0];
  if (first === undefined) return PLAIN;
  if (present.length === 1) return first;
  const tokenized = present.filter((r) => r.kind !== 'plain');
  const head = tokenized[0];
  const field = head === undefined ? undefined : tokenizedField(head);
  if (head === undefined || field === undefined) return PLAIN;
  const sameField = tokenized.length === present.length && tokenized.every((r) => r.kind === 'field' && r.field.key === field.key);
  if (sameField) return head;
  return { kind: 'ambiguous', field, name };
}

/** One query level's FROM items and WITH names, chained to the enclosing levels. */
export class Scope {
  readonly sources: Source[] = [];
  readonly ctes = new Map<string, Outputs>();

  /**
   * @param parent the enclosing query level.
   * @param parentSourcesVisible false for a non-LATERAL subquery in FROM: it sees the enclosing
   *   levels' WITH names and outer queries, but not its sibling FROM items.
   */
  constructor(
    readonly parent: Scope | undefined,
    readonly parentSourcesVisible = true,
  ) {}

  /** The outputs of a WITH query visible here under `name`. */
  findCte(name: string): Outputs | undefined {
    return this.ctes.get(name) ?? this.parent?.findCte(name);
  }

  /** Resolves a column reference's name parts (`email`, `u.email`, `public.users.email`). */
  resolve(parts: readonly string[]): Resolution {
    const column = parts.at(-1);
    if (column === undefined) return PLAIN;
    if (parts.length === 1) return this.#resolveUnqualified(column);
    const qualifier = parts[parts.length - 2] as string;
    const schema = parts.length >= 3 ? parts[parts.length - 3] : undefined;
    for (const sources of this.#visibleLevels()) {
      const source = sources.find((s) =>
        schema === undefined
          ? s.name === qualifier
          : s.relation !== undefined && s.relation.table === qualifier && (s.relation.schema === undefined || s.relation.schema === schema),
      );
      // A reference to a name no FROM item has is an error PostgreSQL reports itself.
      if (source !== undefined) {
        const res = source.lookup(column);
        return res.kind === 'absent' ? PLAIN : res;
      }
    }
    return PLAIN;
  }

  /**
   * The first tokenized column of the row a whole-row reference stands for, or undefined when the
   * reference is not one (or its row holds nothing tokenized). Whole-row references are `u.*`,
   * `*` (with `star`), and a bare name or `schema.table` that is no column but a FROM item
   * (`WHERE users = ROW(…)`, `to_jsonb(u)`, `(u).email`): PostgreSQL takes a name as a column
   * first, which the proxy cannot tell without the catalog, so a name that could be either is
   * treated as the row when its FROM item has tokenized columns (refusing too much fails safe).
   * Callers ask only after `resolve` found no tokenized column under the name.
   */
  wholeRow(parts: readonly string[], star: boolean): ResolvedField | undefined {
    if (star && parts.length === 0) {
      // A bare `*` stands for every FROM item of its own level.
      return this.sources.flatMap((s) => s.starColumns()).map((c) => tokenizedField(c.res)).find((f) => f !== undefined);
    }
    if (!star && parts.length > 2) return undefined;
    const name = parts.at(-1);
    if (name === undefined) return undefined;
    // `name` is a FROM item's name (alias or table); `schema.name` an unaliased table's full name.
    const schema = parts.length >= 2 ? parts.at(-2) : undefined;
    const matches = (s: Source): boolean =>
      schema === undefined
        ? s.name === name
        : s.relation !== undefined && s.relation.table === name && (s.relation.schema === undefined || s.relation.schema === schema);
    for (const sources of this.#visibleLevels()) {
      const source = sources.find(matches);
      if (source !== undefined) return source.starColumns().map((c) => tokenizedField(c.res)).find((f) => f !== undefined);
    }
    return undefined;
  }

  /** The sources of every query level a reference made here may reach, innermost first. */
  *#visibleLevels(): Generator<readonly Source[]> {
    yield this.sources;
    let visible = this.parentSourcesVisible;
    for (let s = this.parent; s !== undefined; s = s.parent) {
      if (visible) yield s.sources;
      visible = s.parentSourcesVisible;
    }
  }

  #resolveUnqualified(column: string): Resolution {
    // PostgreSQL takes the innermost query level that has the column. A configured tokenized
    // column certainly exists (the control plane checks it against the catalog); any other table
    // may or may not have a column of that name, since the proxy has no catalog. So a tokenized
    // candidate next to another candidate on its level, or behind a level that may hold the name,
    // is ambiguous and refused rather than guessed.
    let innerMayHaveIt = false;
    for (const sources of this.#visibleLevels()) {
      const results = sources.map((s) => s.lookup(column)).filter((r) => r.kind !== 'absent');
      const field = results.map(tokenizedField).find((f) => f !== undefined);
      if (field === undefined) {
        if (results.length > 0) innerMayHaveIt = true;
        continue;
      }
      const res = combine(column, results);
      return innerMayHaveIt && res.kind !== 'ambiguous' ? { kind: 'ambiguous', field, name: column } : res;
    }
    return PLAIN;
  }
}
