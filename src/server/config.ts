import path from 'node:path';
import type { BackendChoice } from '../crypto/select-backend.js';

/**
 * Default bound on the summed answers of one pipeline, bytes of JSON (QS_PIPELINE_ANSWER_LIMIT).
 * A pipeline is answered by one payload that the proxy serializes and the driver parses whole, so
 * sixteen reads of 20 MB each, each fine alone, would together pass the driver's 256 MB payload
 * bound (and V8's ~512 MB string length) and fail every caller.
 */
export const DEFAULT_PIPELINE_ANSWER_LIMIT = 64 * 1024 * 1024;
/** Half the driver's payload bound: what the estimate leaves out (field names, ids) must fit too. */
export const MAX_PIPELINE_ANSWER_LIMIT = 128 * 1024 * 1024;

/** Everything `quantaseal serve` can be told, from flags or QS_* environment variables. */
export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  /** `sqlite:PATH` or a postgres:// URL. */
  store: string;
  /** Schema of the PostgreSQL store (default `quantaseal`); lets several deployments share a database. */
  storeSchema?: string;
  /** `local` or `aws:<key ARN>`. */
  kms: string;
  awsKmsEndpoint?: string;
  tls?: { cert: string; key: string };
  /** Largest request body accepted, bytes. */
  bodyLimit: number;
  /** Largest summed answer of one pipeline, bytes of JSON; larger reads' answers are sent alone. */
  pipelineAnswerLimit: number;
  /**
   * Rows of untokenized results written as JSON straight from PostgreSQL's bytes (default true;
   * QS_ENCODE_ROWS=0 turns it off and rows go through pg's parser as JS strings).
   */
  encodeRows: boolean;
  logLevel: string;
  cryptoBackend: BackendChoice;
}

export function defaultConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  const dataDir = path.resolve(overrides.dataDir ?? process.env.QS_DATA_DIR ?? '.quantaseal');
  const env = process.env;
  const cert = overrides.tls?.cert ?? env.QS_TLS_CERT;
  const key = overrides.tls?.key ?? env.QS_TLS_KEY;
  return {
    host: overrides.host ?? env.QS_HOST ?? '127.0.0.1',
    port: overrides.port ?? (env.QS_PORT ? Number(env.QS_PORT) : 8080),
    dataDir,
    store: overrides.store ?? env.QS_STORE ?? `sqlite:${path.join(dataDir, 'quantaseal.db')}`,
    storeSchema: overrides.storeSchema ?? env.QS_STORE_SCHEMA,
    kms: overrides.kms ?? env.QS_KMS ?? 'local',
    awsKmsEndpoint: overrides.awsKmsEndpoint ?? env.QS_AWS_KMS_ENDPOINT,
    tls: cert && key ? { cert, key } : undefined,
    bodyLimit: overrides.bodyLimit ?? (env.QS_BODY_LIMIT ? Number(env.QS_BODY_LIMIT) : 8 * 1024 * 1024),
    pipelineAnswerLimit:
      overrides.pipelineAnswerLimit ?? envInteger(env, 'QS_PIPELINE_ANSWER_LIMIT', { min: 1024, max: MAX_PIPELINE_ANSWER_LIMIT }) ?? DEFAULT_PIPELINE_ANSWER_LIMIT,
    encodeRows: overrides.encodeRows ?? (envInteger(env, 'QS_ENCODE_ROWS', { min: 0, max: 1 }) ?? 1) === 1,
    logLevel: overrides.logLevel ?? env.QS_LOG_LEVEL ?? 'info',
    cryptoBackend: overrides.cryptoBackend ?? ((env.QS_CRYPTO_BACKEND as BackendChoice | undefined) || 'auto'),
  };
}

/**
 * An integer setting from the environment: undefined when unset or blank, else the value, which
 * must be a whole number from `min` to `max` (a typo fails start-up rather than being ignored).
 */
export function envInteger(env: NodeJS.ProcessEnv, name: string, bounds: { min: number; max: number }): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < bounds.min || n > bounds.max) throw new Error(`${name} must be an integer from ${bounds.min} to ${bounds.max}, got "${raw}"`);
  return n;
}
