/** How a tokenized column's values are tokenized (DESIGN §6). */
export type TokenMode = 'deterministic' | 'random';

/** A tokenized column from an integration's `tokenization.fields`. */
export interface TokenizedField {
  /** The table's schema; `public` when omitted. */
  readonly schema?: string;
  readonly table: string;
  readonly column: string;
  readonly mode: TokenMode;
}

/** The tokenized column a parameter feeds. */
export interface ParamTarget {
  readonly schema: string;
  readonly table: string;
  readonly column: string;
  readonly mode: TokenMode;
  /** The parameter is an array whose every element is tokenized (`col = ANY($n)`). */
  readonly array: boolean;
}

/** A tokenized field with its schema settled, as the resolver hands it around. */
export interface ResolvedField {
  readonly schema: string;
  readonly table: string;
  readonly column: string;
  readonly mode: TokenMode;
  /** `schema.table.column`, for equality and for messages. */
  readonly key: string;
}

/**
 * What a column reference (or a derived table's output column) stands for:
 * - `plain`: not a tokenized column (or a column the proxy cannot see that is not one);
 * - `absent`: the source certainly has no such column (derived tables with known columns);
 * - `field`: exactly this tokenized column;
 * - `tainted`: computed from a tokenized column (a function, operator or cast around it);
 * - `ambiguous`: may be a tokenized column, but which table it comes from cannot be told.
 */
export type Resolution =
  | { readonly kind: 'plain' }
  | { readonly kind: 'absent' }
  | { readonly kind: 'field'; readonly field: ResolvedField }
  | { readonly kind: 'tainted'; readonly field: ResolvedField; readonly why: string }
  | { readonly kind: 'ambiguous'; readonly field: ResolvedField; readonly name: string };

export const PLAIN: Resolution = { kind: 'plain' };
export const ABSENT: Resolution = { kind: 'absent' };

/** The tokenized column behind a resolution, when there is one. */
export function tokenizedField(res: Resolution): ResolvedField | undefined {
  return res.kind === 'plain' || res.kind === 'absent' ? undefined : res.field;
}
