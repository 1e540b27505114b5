import { asNode, list, strings, unwrap } from '../policy/ast-nodes.js';
import type { AstFields } from '../policy/ast-nodes.js';

/**
 * Pure helpers for the parameter mapper: the shapes an operand of a comparison or an assigned
 * value can take, before any name is resolved.
 */

/** Types a tokenized text column's value may be cast to without changing what is compared. */
const TEXT_TYPES: ReadonlySet<string> = new Set(['text', 'varchar', 'bpchar', 'character varying', 'citext', 'name']);

/** Comparison operators under which equal tokens mean equal values. */
export const EQUALITY_OPERATORS: ReadonlySet<string> = new Set(['=', '<>', '!=']);

/** Operators that order or pattern-match, named in refusals. */
const RANGE_OPERATORS: ReadonlySet<string> = new Set(['<', '>', '<=', '>=']);

/** A cast's target, e.g. `text`, `int4`, `text[]`. */
export interface CastType {
  readonly name: string;
  readonly array: boolean;
}

/** The type a `TypeCast` node casts to. */
export function castTypeOf(cast: AstFields): CastType {
  const typeName = cast.typeName as AstFields | undefined;
  const names = strings(typeName?.names);
  return { name: (names.at(-1) ?? '').toLowerCase(), array: list(typeName?.arrayBounds).length > 0 };
}

/** Whether a cast keeps a text value comparable as the same text (`$1::text`, `email::varchar`). */
export function isTextCast(cast: CastType, array: boolean): boolean {
  return TEXT_TYPES.has(cast.name) && cast.array === array;
}

/** Strips `COLLATE` (it changes ordering, not equality of tokens) and returns the node below. */
export function stripCollate(node: unknown): unknown {
  let current = node;
  for (let c = asNode(current, 'CollateClause'); c !== undefined; c = asNode(current, 'CollateClause')) current = c.arg;
  return current;
}

/** The operator name of an `A_Expr` (the last part of `OPERATOR(pg_catalog.=)`). */
export function operatorOf(expr: AstFields): string {
  return strings(expr.name).at(-1) ?? '';
}

/** Why a comparison of kind `kind` with operator `op` cannot be done on tokens. */
export function unsupportedComparison(kind: string, op: string): string {
  switch (kind) {
    case 'AEXPR_LIKE':
    case 'AEXPR_ILIKE':
      return 'LIKE/ILIKE cannot match tokens (only whole-value equality can)';
    case 'AEXPR_SIMILAR':
      return 'SIMILAR TO cannot match tokens (only whole-value equality can)';
    case 'AEXPR_BETWEEN':
    case 'AEXPR_NOT_BETWEEN':
    case 'AEXPR_BETWEEN_SYM':
    case 'AEXPR_NOT_BETWEEN_SYM':
      return 'BETWEEN cannot compare tokens (tokens do not keep order)';
    default:
      if (RANGE_OPERATORS.has(op)) return `"${op}" cannot compare tokens (tokens do not keep order)`;
      if (op.includes('~')) return `pattern match "${op}" cannot match tokens`;
      return `operator "${op}" cannot be applied to tokens (only = and <> can)`;
  }
}

/** Whether `node` is an `A_Const` NULL. */
export function isNullConst(node: unknown): boolean {
  return asNode(node, 'A_Const')?.isnull === true;
}

/** Whether any `ParamRef` occurs under `node`. */
export function containsParam(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(containsParam);
  const pair = unwrap(node);
  if (pair === undefined) {
    return typeof node === 'object' && node !== null && Object.values(node).some(containsParam);
  }
  if (pair[0] === 'ParamRef') return true;
  return Object.values(pair[1]).some(containsParam);
}
