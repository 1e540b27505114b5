import type { Node } from 'libpg-query';

/**
 * Small, typed-enough accessors over libpg-query's JSON AST. Every node is an object with one key
 * (its type, e.g. `SelectStmt`) whose value holds the fields; these helpers keep the walkers free
 * of casts.
 */

/** A node's fields, seen loosely: the walkers read only what they check. */
export type AstFields = Record<string, unknown>;

/** Whether `value` is a plain object (an AST node or a node's fields). */
export function isObject(value: unknown): value is AstFields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The type name of a wrapped node (`{SelectStmt: {...}}` → `SelectStmt`), or undefined. */
export function nodeType(node: unknown): string | undefined {
  if (!isObject(node)) return undefined;
  const keys = Object.keys(node);
  return keys.length === 1 ? keys[0] : undefined;
}

/** The fields of a wrapped node if it has type `type`. */
export function asNode(node: unknown, type: string): AstFields | undefined {
  if (!isObject(node)) return undefined;
  const inner = node[type];
  return isObject(inner) ? inner : undefined;
}

/** A `[type, fields]` pair for a wrapped node, or undefined when `node` is not one. */
export function unwrap(node: unknown): [string, AstFields] | undefined {
  const type = nodeType(node);
  if (type === undefined) return undefined;
  const inner = (node as AstFields)[type];
  return isObject(inner) ? [type, inner] : undefined;
}

/** An array field, or an empty array when absent or of another shape. */
export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The `sval`s of a list of `String` nodes (qualified names, operator names). */
export function strings(value: unknown): string[] {
  const out: string[] = [];
  for (const item of list(value)) {
    const s = asNode(item, 'String');
    if (s !== undefined && typeof s.sval === 'string') out.push(s.sval);
  }
  return out;
}

/** A string field, or undefined. */
export function str(fields: AstFields, key: string): string | undefined {
  const v = fields[key];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Depth-first search of every node under `root` (the root included) for one whose type is in
 * `types`; `visit` returning true stops the search. Used by checks that must look everywhere
 * (a data-modifying CTE nested in a subquery, a forbidden function anywhere), where missing a
 * spot would be a hole.
 */
export function someNode(root: unknown, visit: (type: string, fields: AstFields) => boolean): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (const item of value) stack.push(item);
      continue;
    }
    if (!isObject(value)) continue;
    for (const [key, child] of Object.entries(value)) {
      if (isObject(child)) {
        // Node-type keys start with an upper-case letter (SelectStmt, A_Expr); field names do not.
        // A set operation's arms are bare SelectStmt fields under larg/rarg, not wrapped nodes.
        const type = /^[A-Z]/.test(key) ? key : isBareSelectArm(key, child) ? 'SelectStmt' : undefined;
        if (type !== undefined && visit(type, child)) return true;
      }
      if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
  return false;
}

/** Whether `value` under `key` is an unwrapped SelectStmt arm of a UNION/INTERSECT/EXCEPT. */
export function isBareSelectArm(key: string, value: AstFields): boolean {
  return (key === 'larg' || key === 'rarg') && 'op' in value;
}

export type { Node };
