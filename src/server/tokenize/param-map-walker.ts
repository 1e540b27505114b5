import { QsError } from '../../protocol/errors.js';
import { asNode, isObject, list, str, strings, unwrap } from '../policy/ast-nodes.js';
import type { AstFields } from '../policy/ast-nodes.js';
import {
  EQUALITY_OPERATORS,
  castTypeOf,
  containsParam,
  isTextCast,
  operatorOf,
  stripCollate,
  unsupportedComparison,
} from './param-map-operand.js';
import type { CastType } from './param-map-operand.js';
import { Scope, derivedSource, joinSource, opaqueSource, renameColumns, tableSource } from './param-map-scope.js';
import type { FieldIndex, OutputColumn, Outputs, Source } from './param-map-scope.js';
import { ABSENT, PLAIN, tokenizedField } from './param-map-types.js';
import type { ParamTarget, ResolvedField, Resolution } from './param-map-types.js';

/** Where an expression sits: conditions (WHERE/JOIN ON/HAVING) are stricter than output values. */
interface Ctx {
  readonly scope: Scope;
  readonly predicate: boolean;
}

/** What one side of a comparison, or an assigned value, is. */
type Operand =
  | { readonly kind: 'param'; readonly number: number; readonly cast: CastType | undefined }
  | { readonly kind: 'null' }
  | { readonly kind: 'default' }
  | { readonly kind: 'literal' }
  | { readonly kind: 'column'; readonly name: string; readonly res: Resolution }
  | { readonly kind: 'tokenized'; readonly res: Resolution }
  | { readonly kind: 'expression' };

/** A SELECT's outputs plus, when positions are known, each output's expression (for INSERT … SELECT). */
interface SelectResult {
  readonly outputs: Outputs;
  readonly targets: ReadonlyArray<{ readonly node: unknown; readonly scope: Scope }> | undefined;
}

const DML = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/**
 * Walks one statement's AST and records, for every `$n` that feeds a tokenized column, which
 * column it is. Anything it cannot map with certainty around a tokenized column is refused with
 * QS_TOKENIZATION_UNSUPPORTED: the rule is that PII never reaches the database untokenized.
 */
export class ParamMapper {
  /** The mapping built so far (1-based parameter number → column). */
  readonly params = new Map<number, ParamTarget>();

  constructor(private readonly index: FieldIndex) {}

  /** Maps the parameters of one top-level statement. */
  statement(node: unknown): void {
    const pair = unwrap(node);
    if (pair === undefined) return;
    const [type, fields] = pair;
    if (type === 'SelectStmt') this.select(fields, undefined);
    else if (DML.has(type)) this.dml(type, fields, undefined);
    else if (containsParam(node)) refuse(undefined, `parameters in a ${type} cannot be mapped to columns`);
  }

  // ── statements ────────────────────────────────────────────────────────────────────────────

  private select(f: AstFields, parent: Scope | undefined, parentSourcesVisible = true): SelectResult {
    const scope = new Scope(parent, parentSourcesVisible);
    this.withClause(f.withClause, scope);
    const value: Ctx = { scope, predicate: false };
    const op = str(f, 'op');
    if (op !== undefined && op !== 'SETOP_NONE') {
      const left = this.select(f.larg as AstFields, scope);
      const right = this.select(f.rarg as AstFields, scope);
      this.expr([f.sortClause, f.limitCount, f.limitOffset], value);
      return { outputs: mergeSetOperation(left.outputs, right.outputs), targets: undefined };
    }
    const joinQuals: unknown[] = [];
    for (const item of list(f.fromClause)) this.fromItem(item, scope, joinQuals);
    this.expr(joinQuals, { scope, predicate: true });

    const rows = list(f.valuesLists);
    if (rows.length > 0) {
      this.expr(rows, value);
      const width = list(asNode(rows[0], 'List')?.items).length;
      const columns = Array.from({ length: width }, (_, i) => ({ name: `column${i + 1}`, res: PLAIN }));
      const targets = width === 0 ? undefined : list(asNode(rows[0], 'List')?.items).map((node) => ({ node, scope }));
      return { outputs: { columns, open: false }, targets: rows.length === 1 ? targets : undefined };
    }

    this.expr(f.targetList, value);
    this.expr([f.whereClause, f.havingClause], { scope, predicate: true });
    this.expr([f.groupClause, f.sortClause, f.distinctClause, f.windowClause, f.limitCount, f.limitOffset], value);
    return this.targetOutputs(list(f.targetList), scope);
  }

  private dml(type: string, f: AstFields, parent: Scope | undefined): Outputs {
    const scope = new Scope(parent);
    this.withClause(f.withClause, scope);
    const rel = f.relation as AstFields | undefined;
    const schema = rel === undefined ? undefined : str(rel, 'schemaname');
    const table = rel === undefined ? '' : (str(rel, 'relname') ?? '');
    const alias = str((rel?.alias as AstFields | undefined) ?? {}, 'aliasname');
    const target = tableSource(this.index, schema, table, alias);

    if (type === 'InsertStmt') this.insert(f, scope, target, schema, table);
    else if (type === 'MergeStmt') this.merge(f, scope, target, schema, table);
    else {
      scope.sources.push(target);
      const joinQuals: unknown[] = [];
      for (const item of list(type === 'UpdateStmt' ? f.fromClause : f.usingClause)) this.fromItem(item, scope, joinQuals);
      this.expr(joinQuals, { scope, predicate: true });
      if (type === 'UpdateStmt') this.assignments(list(f.targetList), target, scope);
      this.expr(f.whereClause, { scope, predicate: true });
    }

    const returning = list((f.returningClause as AstFields | undefined)?.exprs);
    if (returning.length === 0) return { columns: [], open: false };
    const rscope = new Scope(scope);
    rscope.sources.push(target);
    this.expr(returning, { scope: rscope, predicate: false });
    return this.targetOutputs(returning, rscope).outputs;
  }

  private insert(f: AstFields, scope: Scope, target: Source, schema: string | undefined, table: string): void {
    const tokenized = this.index.fieldsOf(schema, table);
    const cols = list(f.cols).map((c) => asNode(c, 'ResTarget') ?? {});
    const colFields = cols.map((c) => {
      const field = tokenizedField(target.lookup(str(c, 'name') ?? ''));
      if (field !== undefined && list(c.indirection).length > 0) refuse(field, 'assigning to a part of the column (subscript or field) cannot be tokenized');
      return field;
    });
    const source = asNode(f.selectStmt, 'SelectStmt');
    if (source !== undefined) {
      const first = tokenized[0];
      if (cols.length === 0 && first !== undefined) {
        refuse(first, 'INSERT without a column list into a table with tokenized columns; name the columns');
      }
      const rows = list(source.valuesLists);
      if (rows.length > 0 && (str(source, 'op') ?? 'SETOP_NONE') === 'SETOP_NONE' && source.withClause === undefined) {
        // VALUES rows: each item is assigned to the column at its position.
        for (const row of rows) {
          list(asNode(row, 'List')?.items).forEach((item, i) => {
            const field = colFields[i];
            if (field !== undefined) this.assigned(field, item, scope);
            else this.expr(item, { scope, predicate: false });
          });
        }
      } else {
        // INSERT … SELECT: the SELECT cannot see the target table; its outputs map by position.
        const result = this.select(source, scope);
        colFields.forEach((field, i) => {
          if (field === undefined) return;
          const t = result.targets?.[i];
          if (t !== undefined) return this.assigned(field, t.node, t.scope);
          const out = result.outputs.columns[i];
          if (out?.res.kind === 'field' && out.res.field.key === field.key && !result.outputs.open) return;
          refuse(field, 'INSERT … SELECT with * or a set operation into a tokenized column cannot be mapped; list the columns');
        });
      }
    }
    const conflict = f.onConflictClause as AstFields | undefined;
    if (conflict !== undefined) {
      const cscope = new Scope(scope);
      cscope.sources.push(target, tableSource(this.index, schema, table, 'excluded'));
      const infer = conflict.infer as AstFields | undefined;
      this.expr(infer?.whereClause, { scope: cscope, predicate: true });
      this.assignments(list(conflict.targetList), target, cscope);
      this.expr(conflict.whereClause, { scope: cscope, predicate: true });
    }
  }

  private merge(f: AstFields, scope: Scope, target: Source, schema: string | undefined, table: string): void {
    const first = this.index.fieldsOf(schema, table)[0];
    if (first !== undefined) refuse(first, 'MERGE into a table with tokenized columns is not supported; use INSERT … ON CONFLICT');
    scope.sources.push(target);
    const joinQuals: unknown[] = [];
    this.fromItem(f.sourceRelation, scope, joinQuals);
    // The untokenized target takes no tokenized values, so every clause is held to the strict rules.
    this.expr([joinQuals, f.joinCondition, f.mergeWhenClauses], { scope, predicate: true });
  }

  /** UPDATE SET / ON CONFLICT DO UPDATE SET: each value is checked against its column. */
  private assignments(targetList: readonly unknown[], target: Source, scope: Scope): void {
    for (const item of targetList) {
      const rt = asNode(item, 'ResTarget');
      if (rt === undefined) continue;
      const field = tokenizedField(target.lookup(str(rt, 'name') ?? ''));
      if (field !== undefined && list(rt.indirection).length > 0) refuse(field, 'assigning to a part of the column (subscript or field) cannot be tokenized');
      const multi = asNode(rt.val, 'MultiAssignRef');
      if (multi === undefined) {
        if (field !== undefined) this.assigned(field, rt.val, scope);
        else this.expr(rt.val, { scope, predicate: false });
        continue;
      }
      // SET (a, b) = ($1, $2): every column repeats the whole row; take this column's item.
      const row = asNode(multi.source, 'RowExpr');
      const colno = typeof multi.colno === 'number' ? multi.colno : 0;
      if (row !== undefined) {
        const value = list(row.args)[colno - 1];
        if (field !== undefined) this.assigned(field, value, scope);
        else this.expr(value, { scope, predicate: false });
      } else if (field !== undefined) {
        refuse(field, 'a multi-column assignment from a subquery cannot be tokenized; assign parameters');
      } else if (colno === 1) {
        this.expr(multi.source, { scope, predicate: false });
      }
    }
  }

  /** A value stored into tokenized column `field`: only a parameter (or NULL/DEFAULT/the column itself) can be tokenized. */
  private assigned(field: ResolvedField, node: unknown, scope: Scope): void {
    const o = this.operand(node, { scope, predicate: false });
    switch (o.kind) {
      case 'param':
        return this.assign(field, o.number, o.cast, false);
      case 'null':
      case 'default':
        return;
      case 'column':
        if (o.res.kind === 'field' && o.res.field.key === field.key) return;
        return refuse(field, `assigned from column "${o.name}", which does not hold this column's tokens; assign a parameter`);
      case 'literal':
        return refuse(field, 'a literal in the SQL text would be stored untokenized; pass the value as a parameter');
      default:
        return refuse(field, 'assigned from an expression or function that cannot be tokenized; assign a parameter');
    }
  }

  private withClause(withClause: unknown, scope: Scope): void {
    if (!isObject(withClause)) return;
    for (const item of list(withClause.ctes)) {
      const cte = asNode(item, 'CommonTableExpr');
      if (cte === undefined) continue;
      const name = str(cte, 'ctename') ?? '';
      const colnames = strings(cte.aliascolnames);
      const query = unwrap(cte.ctequery);
      if (query === undefined) continue;
      const [type, f] = query;
      if (withClause.recursive === true && type === 'SelectStmt' && str(f, 'op') === 'SETOP_UNION') {
        // The recursive arm refers to the CTE itself: resolve it with the non-recursive arm's
        // columns, then insist the whole CTE agrees with them.
        const seed = renameColumns(this.select(f.larg as AstFields, scope).outputs, colnames);
        scope.ctes.set(name, seed);
        const full = renameColumns(this.select(f, scope).outputs, colnames);
        const changed = full.columns.find((c, i) => tokenizedField(c.res)?.key !== tokenizedField(seed.columns[i]?.res ?? PLAIN)?.key);
        const field = changed === undefined ? undefined : tokenizedField(changed.res) ?? tokenizedField(seed.columns[full.columns.indexOf(changed)]?.res ?? PLAIN);
        if (field !== undefined) refuse(field, 'a recursive WITH query mixes a tokenized column with other values');
        scope.ctes.set(name, full);
        continue;
      }
      const outputs = type === 'SelectStmt' ? this.select(f, scope).outputs : DML.has(type) ? this.dml(type, f, scope) : undefined;
      if (outputs === undefined) {
        if (containsParam(cte.ctequery)) refuse(undefined, `parameters in a ${type} cannot be mapped to columns`);
        continue;
      }
      scope.ctes.set(name, renameColumns(outputs, colnames));
    }
  }

  private fromItem(node: unknown, scope: Scope, joinQuals: unknown[]): void {
    const pair = unwrap(node);
    if (pair === undefined) return;
    const [type, f] = pair;
    const aliasFields = f.alias as AstFields | undefined;
    const alias = aliasFields === undefined ? undefined : str(aliasFields, 'aliasname');
    const colnames = strings(aliasFields?.colnames);
    switch (type) {
      case 'RangeVar': {
        const schema = str(f, 'schemaname');
        const relname = str(f, 'relname') ?? '';
        const cte = schema === undefined ? scope.findCte(relname) : undefined;
        if (cte !== undefined) {
          scope.sources.push(derivedSource(alias ?? relname, renameColumns(cte, colnames)));
        } else if (colnames.length > 0) {
          // `users u(a, b)` renames columns by position, which only the catalog knows.
          const own = tableSource(this.index, schema, relname, alias);
          scope.sources.push(derivedSource(own.name, renameColumns({ columns: own.starColumns(), open: true }, colnames)));
        } else {
          scope.sources.push(tableSource(this.index, schema, relname, alias));
        }
        return;
      }
      case 'RangeSubselect': {
        const sub = asNode(f.subquery, 'SelectStmt') ?? {};
        const result = this.select(sub, scope, f.lateral === true);
        scope.sources.push(derivedSource(alias ?? '', renameColumns(result.outputs, colnames)));
        return;
      }
      case 'JoinExpr': {
        const before = scope.sources.length;
        this.fromItem(f.larg, scope, joinQuals);
        const middle = scope.sources.length;
        this.fromItem(f.rarg, scope, joinQuals);
        const using = strings(f.usingClause);
        if (f.isNatural === true || using.length > 0) {
          joinColumns(scope.sources.slice(before, middle), scope.sources.slice(middle), f.isNatural === true ? undefined : using);
        }
        if (f.quals !== undefined) joinQuals.push(f.quals);
        if (alias !== undefined) scope.sources.push(joinSource(alias, scope.sources.splice(before)));
        return;
      }
      case 'RangeTableSample':
        this.fromItem(f.relation, scope, joinQuals);
        this.expr([f.args, f.repeatable], { scope, predicate: false });
        return;
      default: {
        // Set-returning functions (unnest($1), generate_series) and table functions: their
        // columns are not table columns, so nothing in them is tokenized.
        this.expr(f, { scope, predicate: false });
        const fn = strings(asNode(list(asNode(list(f.functions)[0], 'List')?.items)[0], 'FuncCall')?.funcname).at(-1);
        scope.sources.push(opaqueSource(alias ?? fn ?? ''));
      }
    }
  }

  /** The output columns of a target list (SELECT list, RETURNING). */
  private targetOutputs(targetList: readonly unknown[], scope: Scope): SelectResult {
    const columns: OutputColumn[] = [];
    let open = false;
    for (const item of targetList) {
      const rt = asNode(item, 'ResTarget');
      if (rt === undefined) continue;
      const ref = asNode(rt.val, 'ColumnRef');
      const parts = list(ref?.fields);
      if (ref !== undefined && asNode(parts.at(-1), 'A_Star') !== undefined) {
        open = true;
        const qualifier = strings(parts).at(-1);
        for (const source of scope.sources) {
          if (parts.length === 1 || source.name === qualifier) columns.push(...source.starColumns());
        }
        continue;
      }
      const name = str(rt, 'name') ?? (ref !== undefined ? strings(parts).at(-1) : undefined);
      const o = this.operand(rt.val, { scope, predicate: false });
      const res = o.kind === 'column' || o.kind === 'tokenized' ? o.res : PLAIN;
      columns.push({ name, res });
    }
    const targets = open ? undefined : targetList.map((item) => ({ node: asNode(item, 'ResTarget')?.val, scope }));
    return { outputs: { columns, open }, targets };
  }

  // ── expressions ───────────────────────────────────────────────────────────────────────────

  private expr(node: unknown, ctx: Ctx): void {
    if (Array.isArray(node)) {
      for (const item of node) this.expr(item, ctx);
      return;
    }
    if (!isObject(node)) return;
    const pair = unwrap(node);
    if (pair === undefined || !/^[A-Z]/.test(pair[0])) {
      // A bare struct (WindowDef, CaseWhen fields…): walk its fields.
      for (const value of Object.values(node)) this.expr(value, ctx);
      return;
    }
    const [type, f] = pair;
    switch (type) {
      case 'ColumnRef':
        return this.columnRef(f, ctx);
      case 'ParamRef':
      case 'A_Const':
        return;
      case 'A_Expr':
        return this.comparison(f, ctx);
      case 'NullTest':
        return this.nullTest(f, ctx);
      case 'SubLink':
        return this.subLink(f, ctx);
      case 'SelectStmt':
        this.select(f, ctx.scope);
        return;
      case 'FuncCall':
      case 'CoalesceExpr':
      case 'MinMaxExpr':
      case 'RowExpr':
      case 'A_ArrayExpr':
        this.mixedArguments(type, f, ctx);
        for (const value of Object.values(f)) this.expr(value, ctx);
        return;
      case 'CaseExpr':
        return this.caseExpr(f, ctx);
      default:
        for (const value of Object.values(f)) this.expr(value, ctx);
    }
  }

  /**
   * A function (or COALESCE, GREATEST/LEAST, ROW, ARRAY) given both a tokenized column and a
   * parameter: `starts_with(email, $1)`, `coalesce(email, $1)`. The function sees the token next to
   * the parameter's plaintext, so nothing can be tokenized for it and the parameter, likely the
   * same kind of PII, would reach the database in the clear. Refused in every clause. Arguments
   * that are themselves conditions (`bool_or(email = $1)`) are left to the comparison rules, which
   * map their parameters.
   */
  private mixedArguments(type: string, f: AstFields, ctx: Ctx): void {
    const args = list(type === 'A_ArrayExpr' ? f.elements : f.args);
    if (args.length < 2 || !containsParam(args)) return;
    let field: ResolvedField | undefined;
    let tokenIndex = -1;
    args.forEach((arg, i) => {
      if (field !== undefined || isCondition(arg)) return;
      const o = this.operand(arg, ctx);
      const found = o.kind === 'column' || o.kind === 'tokenized' ? tokenizedField(o.res) : undefined;
      if (found !== undefined) {
        field = found;
        tokenIndex = i;
      }
    });
    if (field === undefined) return;
    if (!args.some((arg, i) => i !== tokenIndex && containsParam(arg))) return;
    refuse(field, `passed to ${callName(type, f)} together with a parameter, which cannot be tokenized for it; compare the column with = $n instead`);
  }

  /**
   * `CASE email WHEN $1 THEN … END` compares the column with each WHEN value by equality: each is
   * a counterpart, exactly as in `email = $1`.
   */
  private caseExpr(f: AstFields, ctx: Ctx): void {
    const o = f.arg === undefined ? undefined : this.operand(f.arg, ctx);
    const field = o !== undefined && (o.kind === 'column' || o.kind === 'tokenized') ? tokenizedField(o.res) : undefined;
    if (o === undefined || field === undefined) {
      for (const value of Object.values(f)) this.expr(value, ctx);
      return;
    }
    refuseUse((o as { res: Resolution }).res, '');
    if (field.mode === 'random') refuse(field, randomReason());
    for (const item of list(f.args)) {
      const when = asNode(item, 'CaseWhen');
      if (when === undefined) continue;
      this.counterpart(field, this.operand(when.expr, ctx), false);
      this.expr(when.result, ctx);
    }
    this.expr(f.defresult, ctx);
  }

  /** A column reference met outside a comparison this walker understands. */
  private columnRef(f: AstFields, ctx: Ctx): void {
    if (!ctx.predicate) return;
    const res = this.reference(f, ctx.scope);
    refuseUse(res, 'used in a WHERE/JOIN/HAVING condition in a way that cannot be tokenized (only col = $n, col <> $n, col IN ($n, …) and col = ANY($n) can)');
  }

  /**
   * What a ColumnRef stands for: a column, or (`u.*`, `*`, a bare FROM item name) the whole row of
   * a FROM item, `tainted` when that row holds a tokenized column. A row carries the token inside
   * a composite or JSON value, where no comparison can be mapped (`(users).email = $1`,
   * `to_jsonb(users)->>'email' = $1`, `users.* = ROW(1, $1)`).
   */
  private reference(f: AstFields, scope: Scope): Resolution {
    const parts = strings(f.fields);
    const star = parts.length < list(f.fields).length;
    const res = star ? PLAIN : scope.resolve(parts);
    if (res.kind !== 'plain') return res;
    const field = scope.wholeRow(parts, star);
    if (field === undefined) return PLAIN;
    const name = star ? [...parts, '*'].join('.') : parts.join('.');
    return { kind: 'tainted', field, why: `${WHOLE_ROW} (${name}) carries it inside a row value` };
  }

  private nullTest(f: AstFields, ctx: Ctx): void {
    const arg = asNode(stripCollate(f.arg), 'ColumnRef');
    if (arg === undefined) return this.expr(f.arg, ctx);
    if (!ctx.predicate) return;
    const res = this.reference(arg, ctx.scope);
    // IS NULL reveals nothing and needs no token; random-mode columns stay out of conditions entirely.
    if (res.kind === 'field' && res.field.mode === 'random') refuse(res.field, randomReason());
    if (res.kind === 'tainted' || res.kind === 'ambiguous') refuseUse(res, '');
  }

  /** An `A_Expr`: comparisons, IN, = ANY, LIKE, BETWEEN and every other operator. */
  private comparison(f: AstFields, ctx: Ctx): void {
    const kind = str(f, 'kind') ?? 'AEXPR_OP';
    const op = operatorOf(f);
    const left = f.lexpr === undefined ? undefined : this.operand(f.lexpr, ctx);
    const listItems = asNode(f.rexpr, 'List');
    const rightItems = listItems === undefined ? undefined : list(listItems.items).map((item) => this.operand(item, ctx));
    const right = listItems === undefined && f.rexpr !== undefined ? this.operand(f.rexpr, ctx) : undefined;

    const leftTok = left !== undefined && isTokenizedOperand(left);
    const tok = [left, right, ...(rightItems ?? [])].find((o) => o !== undefined && isTokenizedOperand(o));
    if (tok === undefined) {
      this.expr([f.lexpr, f.rexpr], ctx);
      return;
    }
    const res = (tok as { res: Resolution }).res;
    const field = tokenizedField(res) as ResolvedField;

    const equalityLike =
      ((kind === 'AEXPR_OP' || kind === 'AEXPR_DISTINCT' || kind === 'AEXPR_NOT_DISTINCT') && (EQUALITY_OPERATORS.has(op) || kind !== 'AEXPR_OP')) ||
      ((kind === 'AEXPR_IN' || kind === 'AEXPR_OP_ANY' || kind === 'AEXPR_OP_ALL') && EQUALITY_OPERATORS.has(op) && leftTok && tok === left);

    if (!equalityLike && !ctx.predicate && kind === 'AEXPR_OP' && !isOrderingOperator(op)) {
      // `email || ' <…>'` in an output column computes on the token; only a parameter next to it
      // would reach the database in the clear.
      if (containsParam([f.lexpr, f.rexpr])) refuse(field, `combined with a parameter by operator "${op}", which cannot be tokenized`);
      this.expr(tok === left ? f.rexpr : f.lexpr, ctx);
      return;
    }
    refuseUse(res, '');
    if (!equalityLike && kind === 'AEXPR_IN' && tok !== left) refuse(field, 'a tokenized column inside an IN list cannot be tokenized; put it on the left');
    if (!equalityLike) refuse(field, unsupportedComparison(kind, op));
    if (field.mode === 'random') refuse(field, randomReason());

    if (kind === 'AEXPR_IN') {
      for (const item of rightItems ?? []) this.counterpart(field, item, false);
    } else if (kind === 'AEXPR_OP_ANY' || kind === 'AEXPR_OP_ALL') {
      this.anyArray(field, f.rexpr, ctx);
    } else {
      const other = tok === left ? right : left;
      if (other !== undefined) this.counterpart(field, other, false);
    }
  }

  /** `col = ANY($1)`: the parameter is an array of values to tokenize one by one. */
  private anyArray(field: ResolvedField, rexpr: unknown, ctx: Ctx): void {
    const array = asNode(stripCollate(rexpr), 'A_ArrayExpr');
    if (array !== undefined) {
      for (const element of list(array.elements)) this.counterpart(field, this.operand(element, ctx), false);
      return;
    }
    const o = this.operand(rexpr, ctx);
    if (o.kind !== 'param') return refuse(field, 'compared with = ANY over an expression; pass one array parameter');
    this.assign(field, o.number, o.cast, true);
  }

  /** The other side of an equality with tokenized column `field`. */
  private counterpart(field: ResolvedField, o: Operand, array: boolean): void {
    switch (o.kind) {
      case 'param':
        return this.assign(field, o.number, o.cast, array);
      case 'null':
        return;
      case 'literal':
        return refuse(field, 'compared to a literal in the SQL text; pass the value as a parameter so it can be tokenized');
      case 'column':
        if (o.res.kind === 'field' && o.res.field.key === field.key) return;
        if (o.res.kind === 'field') return refuse(field, `compared to ${o.res.field.key}, a different tokenized column`);
        refuseUse(o.res, '');
        return refuse(field, `compared to column "${o.name}", which is not tokenized`);
      case 'tokenized':
        return refuseUse(o.res, '');
      default:
        return refuse(field, 'compared to an expression that cannot be tokenized; pass the value as a parameter');
    }
  }

  /** `x IN (SELECT …)`, `EXISTS (…)`, `(SELECT …)`: the subquery is walked in its own scope. */
  private subLink(f: AstFields, ctx: Ctx): void {
    const result = this.select(asNode(f.subselect, 'SelectStmt') ?? {}, ctx.scope);
    if (f.testexpr === undefined) return;
    const left = this.operand(f.testexpr, ctx);
    const out = result.outputs.columns[0]?.res ?? PLAIN;
    const leftField = left.kind === 'column' ? tokenizedField(left.res) : undefined;
    const outField = tokenizedField(out);
    if (leftField === undefined && outField === undefined && !isTokenizedOperand(left)) {
      this.expr(f.testexpr, ctx);
      return;
    }
    if (isTokenizedOperand(left)) refuseUse((left as { res: Resolution }).res, '');
    const field = (leftField ?? outField) as ResolvedField;
    if (field.mode === 'random') refuse(field, randomReason());
    const op = strings(f.operName).at(-1) ?? '=';
    if (!EQUALITY_OPERATORS.has(op)) refuse(field, unsupportedComparison('AEXPR_OP', op));
    if (out.kind === 'field' && leftField !== undefined && out.field.key === leftField.key) return;
    refuse(field, 'compared with a subquery whose column is not the same tokenized column');
  }

  /** Classifies one side of a comparison or an assigned value. */
  private operand(node: unknown, ctx: Ctx): Operand {
    const n = stripCollate(node);
    const cast = asNode(n, 'TypeCast');
    if (cast !== undefined) {
      const type = castTypeOf(cast);
      const inner = stripCollate(cast.arg);
      const param = asNode(inner, 'ParamRef');
      if (param !== undefined) return { kind: 'param', number: Number(param.number), cast: type };
      const c = asNode(inner, 'A_Const');
      if (c !== undefined) return c.isnull === true ? { kind: 'null' } : { kind: 'literal' };
      const ref = asNode(inner, 'ColumnRef');
      if (ref !== undefined && isTextCast(type, false)) return this.operand(inner, ctx);
      return this.deep(n, ctx, `cast to ${type.name}${type.array ? '[]' : ''}`);
    }
    const param = asNode(n, 'ParamRef');
    if (param !== undefined) return { kind: 'param', number: Number(param.number), cast: undefined };
    const c = asNode(n, 'A_Const');
    if (c !== undefined) return c.isnull === true ? { kind: 'null' } : { kind: 'literal' };
    if (asNode(n, 'SetToDefault') !== undefined) return { kind: 'default' };
    const ref = asNode(n, 'ColumnRef');
    if (ref !== undefined) {
      const res = this.reference(ref, ctx.scope);
      if (res.kind === 'tainted') return { kind: 'tokenized', res };
      const parts = strings(ref.fields);
      if (parts.length < list(ref.fields).length) return { kind: 'expression' };
      return { kind: 'column', name: parts.join('.'), res };
    }
    const sub = asNode(n, 'SubLink');
    if (sub !== undefined && str(sub, 'subLinkType') === 'EXPR_SUBLINK') {
      const out = this.select(asNode(sub.subselect, 'SelectStmt') ?? {}, ctx.scope).outputs.columns[0]?.res ?? PLAIN;
      if (out.kind !== 'plain' && out.kind !== 'absent') return { kind: 'column', name: 'a subquery', res: out };
      return { kind: 'expression' };
    }
    return this.deep(n, ctx, 'wrapped in a function or expression');
  }

  /** An expression: tokenized when a tokenized column hides anywhere inside it. */
  private deep(node: unknown, ctx: Ctx, why: string): Operand {
    const inner = this.findTokenized(node, ctx.scope);
    const field = inner === undefined ? undefined : tokenizedField(inner);
    if (field === undefined) return { kind: 'expression' };
    // A whole-row reference inside says more about the refusal than "wrapped in a function".
    const wholeRow = inner?.kind === 'tainted' && inner.why.startsWith(WHOLE_ROW) ? inner.why : undefined;
    return { kind: 'tokenized', res: { kind: 'tainted', field, why: wholeRow ?? why } };
  }

  /** The first reference under `node` that stands for (or may stand for) a tokenized column. */
  private findTokenized(node: unknown, scope: Scope): Resolution | undefined {
    if (Array.isArray(node)) {
      for (const item of node) {
        const hit = this.findTokenized(item, scope);
        if (hit !== undefined) return hit;
      }
      return undefined;
    }
    if (!isObject(node)) return undefined;
    const ref = asNode(node, 'ColumnRef');
    if (ref !== undefined) {
      const res = this.reference(ref, scope);
      return tokenizedField(res) === undefined ? undefined : res;
    }
    const sub = asNode(node, 'SubLink');
    if (sub !== undefined) {
      const out = this.select(asNode(sub.subselect, 'SelectStmt') ?? {}, scope).outputs.columns[0]?.res ?? PLAIN;
      return tokenizedField(out) === undefined ? this.findTokenized(sub.testexpr, scope) : out;
    }
    return this.findTokenized(Object.values(node), scope);
  }

  private assign(field: ResolvedField, number: number, cast: CastType | undefined, array: boolean): void {
    if (cast !== undefined && !isTextCast(cast, array)) {
      refuse(field, `$${number} is cast to ${cast.name}${cast.array ? '[]' : ''}; a token is text`);
    }
    const seen = this.params.get(number);
    if (seen !== undefined) {
      if (`${seen.schema}.${seen.table}.${seen.column}` === field.key && seen.array === array) return;
      refuse(field, `$${number} also feeds ${seen.schema}.${seen.table}.${seen.column}${seen.array ? ' as an array' : ''}; use one parameter per use`);
    }
    this.params.set(number, { schema: field.schema, table: field.table, column: field.column, mode: field.mode, array });
  }
}

/** How a whole-row reference's taint begins (see ParamMapper.reference). */
const WHOLE_ROW = 'a whole-row reference';

/** Node types whose value is a truth value, not the column's: their own rules map parameters in them. */
const CONDITION_TYPES: ReadonlySet<string> = new Set(['A_Expr', 'BoolExpr', 'NullTest', 'BooleanTest', 'SubLink']);

/** Whether `node` is a condition (a comparison, AND/OR/NOT, IS NULL, EXISTS…) rather than a value. */
function isCondition(node: unknown): boolean {
  const pair = unwrap(stripCollate(node));
  if (pair === undefined || !CONDITION_TYPES.has(pair[0])) return false;
  if (pair[0] !== 'A_Expr') return true;
  // An A_Expr is a condition unless it is an operator computing a value (`email || 'x'`, `a + 1`).
  const kind = str(pair[1], 'kind') ?? 'AEXPR_OP';
  const op = operatorOf(pair[1]);
  return kind !== 'AEXPR_OP' || EQUALITY_OPERATORS.has(op) || isOrderingOperator(op);
}

/** The name a refusal gives a call: `starts_with()`, `COALESCE`, `ROW`… */
function callName(type: string, f: AstFields): string {
  switch (type) {
    case 'FuncCall':
      return `function ${strings(f.funcname).at(-1) ?? '?'}()`;
    case 'CoalesceExpr':
      return 'COALESCE';
    case 'MinMaxExpr':
      return str(f, 'op') === 'IS_LEAST' ? 'LEAST' : 'GREATEST';
    case 'RowExpr':
      return 'a ROW value';
    default:
      return 'an ARRAY value';
  }
}

/**
 * `JOIN … USING (…)` and `NATURAL JOIN` compare same-named columns of both sides. A tokenized column
 * in such a join is fine only against the same tokenized column (deterministic tokens of equal
 * values are equal, as in `a.email = b.email`); against anything else (another table's plaintext
 * column, another tokenized column, a column that may or may not exist in a table the proxy has no
 * catalog for) it is refused, as the ON form would be.
 *
 * @param names the USING list, or undefined for NATURAL (every name both sides may have).
 */
function joinColumns(left: readonly Source[], right: readonly Source[], names: readonly string[] | undefined): void {
  const l = joinSource('', left);
  const r = joinSource('', right);
  // joinSource answers `plain` for a name no side has; NATURAL needs to know that a side lacks it.
  const side = (sources: readonly Source[], joined: Source, name: string): Resolution =>
    sources.every((s) => s.lookup(name).kind === 'absent') ? ABSENT : joined.lookup(name);
  const candidates = names ?? [...new Set([...l.starColumns(), ...r.starColumns()].map((c) => c.name).filter((n): n is string => n !== undefined))];
  const how = names === undefined ? 'NATURAL JOIN' : 'JOIN … USING';
  for (const name of candidates) {
    const a = side(left, l, name);
    const b = side(right, r, name);
    const field = tokenizedField(a) ?? tokenizedField(b);
    if (field === undefined) continue;
    // NATURAL joins only on names both sides have; a side that certainly lacks it is not joined.
    if (names === undefined && (a.kind === 'absent' || b.kind === 'absent')) continue;
    if (a.kind === 'field' && b.kind === 'field' && a.field.key === b.field.key) {
      if (field.mode === 'random') refuse(field, randomReason());
      continue;
    }
    refuse(field, `${how} on "${name}" compares it with a column that does not hold the same tokens (or may not, without the catalog); join ON qualified columns of the same tokenized column`);
  }
}

function isTokenizedOperand(o: Operand): boolean {
  return (o.kind === 'column' || o.kind === 'tokenized') && tokenizedField(o.res) !== undefined;
}

function isOrderingOperator(op: string): boolean {
  return op === '<' || op === '>' || op === '<=' || op === '>=' || op.includes('~');
}

function randomReason(): string {
  return 'random-mode tokens never repeat, so the column cannot be used in a WHERE/JOIN/HAVING condition';
}

/** Refuses a reference that cannot be used as it is (`tainted`, `ambiguous`), or with `reason` if given for a plain field. */
function refuseUse(res: Resolution, reason: string): void {
  if (res.kind === 'tainted') refuse(res.field, `${res.why}; it cannot be tokenized there`);
  if (res.kind === 'ambiguous') {
    refuse(res.field, `"${res.name}" is ambiguous in a query over several tables, one of which tokenizes it; qualify it with its table or alias`);
  }
  if (res.kind === 'field' && reason !== '') refuse(res.field, res.field.mode === 'random' ? randomReason() : reason);
}

function refuse(field: ResolvedField | undefined, reason: string): never {
  throw new QsError('QS_TOKENIZATION_UNSUPPORTED', field === undefined ? reason : `tokenized column ${field.key}: ${reason}`);
}

/** UNION/INTERSECT/EXCEPT: a column is a tokenized one only if both arms agree. */
function mergeSetOperation(left: Outputs, right: Outputs): Outputs {
  const columns = left.columns.map((l, i) => {
    const r = right.columns[i]?.res ?? PLAIN;
    const lf = tokenizedField(l.res);
    const rf = tokenizedField(r);
    if (lf === undefined && rf === undefined) return l;
    if (l.res.kind === 'field' && r.kind === 'field' && lf?.key === rf?.key) return l;
    const field = (lf ?? rf) as ResolvedField;
    return { name: l.name, res: { kind: 'tainted', field, why: 'combined by a set operation with other values' } satisfies Resolution };
  });
  return { columns, open: left.open || right.open };
}
