import { QsError } from '../../protocol/errors.js';
import { isId, newId } from '../../protocol/ids.js';
import { isOperation } from '../../protocol/wire.js';
import type { IntegrationLimits, IntegrationRecord, Store, TokenizationField } from '../store/store.js';

/** The API shape of an integration. */
export interface IntegrationView {
  integration_id: string;
  name: string | null;
  system_type: 'postgres';
  credential_id: string;
  allowed_operations: string[];
  tokenization: { fields: TokenizationField[] };
  limits: IntegrationLimits;
  created_at: string;
  updated_at: string;
}

export interface IntegrationInput {
  system_type?: unknown;
  credential_id?: unknown;
  name?: unknown;
  allowed_operations?: unknown;
  tokenization?: unknown;
  limits?: unknown;
}

/**
 * Checks tokenization fields against the database catalog (column exists, text type). Supplied
 * by the tokenization module; absent, the shape is still validated.
 */
export type TokenizationCatalogCheck = (tenantId: string, credentialId: string, fields: TokenizationField[]) => Promise<void>;

export const toView = (r: IntegrationRecord): IntegrationView => ({
  integration_id: r.id,
  name: r.name,
  system_type: r.systemType,
  credential_id: r.credentialId,
  allowed_operations: r.allowedOperations,
  tokenization: r.tokenization,
  limits: r.limits,
  created_at: r.createdAt,
  updated_at: r.updatedAt,
});

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

/** Default deny: a missing or empty list allows nothing; unknown names are refused, not dropped. */
export function validateAllowedOperations(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new QsError('QS_INVALID_REQUEST', 'allowed_operations must be an array of operation names');
  const unknown = value.filter((v) => !isOperation(v));
  if (unknown.length > 0) {
    throw new QsError('QS_UNKNOWN_OPERATION', `unknown operation(s) in allowed_operations: ${unknown.map((u) => JSON.stringify(u)).join(', ')} (known: query, execute, transaction, tokenize_and_insert, ddl)`);
  }
  return [...new Set(value as string[])];
}

export function validateTokenization(value: unknown): { fields: TokenizationField[] } {
  if (value === undefined || value === null) return { fields: [] };
  const fields = (value as { fields?: unknown }).fields;
  if (typeof value !== 'object' || !Array.isArray(fields)) throw new QsError('QS_INVALID_REQUEST', 'tokenization must be {fields: [...]}');
  const seen = new Set<string>();
  return {
    fields: fields.map((f: unknown, i): TokenizationField => {
      const o = (f ?? {}) as Record<string, unknown>;
      const bad = (what: string): never => {
        throw new QsError('QS_INVALID_REQUEST', `tokenization.fields[${i}]: ${what}`);
      };
      const allowed = new Set(['schema', 'table', 'column', 'mode', 'detokenize']);
      for (const k of Object.keys(o)) if (!allowed.has(k)) bad(`unknown property "${k}"`);
      const schema = o.schema ?? 'public';
      if (typeof schema !== 'string' || !IDENT_RE.test(schema)) bad('schema must be an identifier');
      if (typeof o.table !== 'string' || !IDENT_RE.test(o.table)) bad('table must be an identifier');
      if (typeof o.column !== 'string' || !IDENT_RE.test(o.column)) bad('column must be an identifier');
      if (o.mode !== 'deterministic' && o.mode !== 'random') bad('mode must be "deterministic" or "random"');
      if (o.detokenize !== undefined && typeof o.detokenize !== 'boolean') bad('detokenize must be a boolean');
      const key = `${schema as string}.${o.table as string}.${o.column as string}`.toLowerCase();
      if (seen.has(key)) bad(`duplicate field ${key}`);
      seen.add(key);
      return {
        schema: (schema as string).toLowerCase(),
        table: (o.table as string).toLowerCase(),
        column: (o.column as string).toLowerCase(),
        mode: o.mode as TokenizationField['mode'],
        detokenize: o.detokenize === true,
      };
    }),
  };
}

export function validateLimits(value: unknown): IntegrationLimits {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new QsError('QS_INVALID_REQUEST', 'limits must be an object');
  const ranges: Record<keyof IntegrationLimits, [number, number]> = {
    max_rows: [1, 10_000_000],
    statement_timeout_ms: [1, 3_600_000],
    max_sessions: [0, 10_000],
    session_idle_timeout_ms: [100, 3_600_000],
  };
  const out: IntegrationLimits = {};
  for (const [k, v] of Object.entries(value)) {
    const range = ranges[k as keyof IntegrationLimits];
    if (range === undefined) throw new QsError('QS_INVALID_REQUEST', `limits: unknown property "${k}"`);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < range[0] || v > range[1]) {
      throw new QsError('QS_INVALID_REQUEST', `limits.${k} must be an integer in [${range[0]}, ${range[1]}]`);
    }
    out[k as keyof IntegrationLimits] = v;
  }
  return out;
}

const CACHE_TTL_MS = 30_000;

/**
 * Integrations: CRUD with validation, and a read cache for the proxy path that every node
 * drops on a change notice (so a narrowed allowed_operations is in force everywhere at once).
 */
export class IntegrationService {
  readonly #cache = new Map<string, { record: IntegrationRecord | null; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly checkCatalog?: TokenizationCatalogCheck,
  ) {
    store.onChange((n) => {
      if (n.topic === 'integration' || n.topic === 'credential') this.#cache.clear();
    });
  }

  async create(tenantId: string, input: IntegrationInput): Promise<IntegrationView> {
    if (input.system_type !== 'postgres') throw new QsError('QS_INVALID_REQUEST', 'system_type must be "postgres"');
    if (typeof input.credential_id !== 'string') throw new QsError('QS_INVALID_REQUEST', 'credential_id is required');
    if ((await this.store.getCurrentCredential(tenantId, input.credential_id)) === null) throw new QsError('QS_NOT_FOUND', 'no such credential');
    const now = new Date().toISOString();
    const record: IntegrationRecord = {
      id: newId('integration'),
      tenantId,
      name: typeof input.name === 'string' ? input.name : null,
      systemType: 'postgres',
      credentialId: input.credential_id,
      allowedOperations: validateAllowedOperations(input.allowed_operations),
      tokenization: validateTokenization(input.tokenization),
      limits: validateLimits(input.limits),
      createdAt: now,
      updatedAt: now,
    };
    if (record.tokenization.fields.length > 0) await this.checkCatalog?.(tenantId, record.credentialId, record.tokenization.fields);
    await this.store.createIntegration(record);
    return toView(record);
  }

  async get(tenantId: string, id: string): Promise<IntegrationView> {
    return toView(await this.require(tenantId, id));
  }

  async list(tenantId: string): Promise<IntegrationView[]> {
    return (await this.store.listIntegrations(tenantId)).map(toView);
  }

  async update(tenantId: string, id: string, input: IntegrationInput): Promise<IntegrationView> {
    const current = await this.store.getIntegration(tenantId, id);
    if (current === null) throw new QsError('QS_NOT_FOUND', 'no such integration');
    if (input.system_type !== undefined && input.system_type !== 'postgres') throw new QsError('QS_INVALID_REQUEST', 'system_type must be "postgres"');
    const next: IntegrationRecord = { ...current, updatedAt: new Date().toISOString() };
    if (input.name !== undefined) next.name = typeof input.name === 'string' ? input.name : null;
    if (input.allowed_operations !== undefined) next.allowedOperations = validateAllowedOperations(input.allowed_operations);
    if (input.tokenization !== undefined) next.tokenization = validateTokenization(input.tokenization);
    if (input.limits !== undefined) next.limits = validateLimits(input.limits);
    if (input.credential_id !== undefined) {
      if (typeof input.credential_id !== 'string' || (await this.store.getCurrentCredential(tenantId, input.credential_id)) === null) {
        throw new QsError('QS_NOT_FOUND', 'no such credential');
      }
      next.credentialId = input.credential_id;
    }
    if (input.tokenization !== undefined && next.tokenization.fields.length > 0) await this.checkCatalog?.(tenantId, next.credentialId, next.tokenization.fields);
    await this.store.updateIntegration(next);
    this.#cache.delete(`${tenantId}/${id}`);
    await this.store.publishChange({ topic: 'integration', id });
    return toView(next);
  }

  async delete(tenantId: string, id: string): Promise<void> {
    if (!(await this.store.deleteIntegration(tenantId, id))) throw new QsError('QS_NOT_FOUND', 'no such integration');
    this.#cache.delete(`${tenantId}/${id}`);
    await this.store.publishChange({ topic: 'integration', id });
  }

  /** For the proxy path: cached, and 404 (not 403) for another tenant's id. */
  async require(tenantId: string, id: string): Promise<IntegrationRecord> {
    // Not an id at all: nothing to look up, and nothing to remember (random ids must not grow the cache).
    if (!isId('integration', id)) throw new QsError('QS_NOT_FOUND', 'no such integration');
    const key = `${tenantId}/${id}`;
    const now = Date.now();
    let hit = this.#cache.get(key);
    if (hit === undefined || hit.until < now) {
      hit = { record: await this.store.getIntegration(tenantId, id), until: now + CACHE_TTL_MS };
      if (this.#cache.size > 10_000) this.#cache.clear();
      this.#cache.set(key, hit);
    }
    if (hit.record === null) throw new QsError('QS_NOT_FOUND', 'no such integration');
    return hit.record;
  }
}
