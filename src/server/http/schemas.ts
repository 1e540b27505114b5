/**
 * JSON schemas for every route. additionalProperties:false everywhere: an unknown field is an
 * error (QS_INVALID_REQUEST), never silently ignored.
 */
import { PIPELINE_MAX_CALLS } from '../../protocol/wire.js';

const id = (prefix: string) => ({ type: 'string', pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` }) as const;

/** The fields an integration may be created or updated with (tokenization and limits are checked by the service). */
const integrationProperties = {
  system_type: { const: 'postgres' },
  credential_id: id('cred'),
  name: { type: 'string', maxLength: 200 },
  allowed_operations: { type: 'array', maxItems: 16, items: { type: 'string', maxLength: 64 } },
  tokenization: { type: 'object' },
  limits: { type: 'object' },
} as const;

export const schemas = {
  credentialIdParam: { type: 'object', required: ['credential_id'], properties: { credential_id: { type: 'string', maxLength: 64 } } },
  integrationIdParam: { type: 'object', required: ['integration_id'], properties: { integration_id: { type: 'string', maxLength: 64 } } },
  tenantIdParam: { type: 'object', required: ['tenant_id'], properties: { tenant_id: { type: 'string', maxLength: 64 } } },
  apiKeyParams: {
    type: 'object',
    required: ['tenant_id', 'api_key_id'],
    properties: { tenant_id: { type: 'string', maxLength: 64 }, api_key_id: { type: 'string', maxLength: 64 } },
  },
  createTenant: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, mode: { enum: ['live', 'test'] } },
  },
  issueApiKey: {
    type: 'object',
    additionalProperties: false,
    properties: { mode: { enum: ['live', 'test'] } },
  },
  seal: {
    type: 'object',
    additionalProperties: false,
    required: ['credential_type', 'values'],
    properties: {
      credential_type: { const: 'database_dsn' },
      name: { type: 'string', maxLength: 200 },
      verify: { type: 'boolean' },
      values: { type: 'object', additionalProperties: false, required: ['dsn'], properties: { dsn: { type: 'string', minLength: 1, maxLength: 4096 } } },
    },
  },
  rotate: {
    type: 'object',
    additionalProperties: false,
    required: ['values'],
    properties: {
      verify: { type: 'boolean' },
      values: { type: 'object', additionalProperties: false, required: ['dsn'], properties: { dsn: { type: 'string', minLength: 1, maxLength: 4096 } } },
    },
  },
  integrationCreate: {
    type: 'object',
    additionalProperties: false,
    required: ['system_type', 'credential_id'],
    properties: integrationProperties,
  },
  integrationUpdate: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: integrationProperties,
  },
  recipientKey: {
    type: 'object',
    additionalProperties: false,
    required: ['public_key'],
    properties: { public_key: { type: 'string', maxLength: 2000 }, key_id: { type: 'string', maxLength: 64 } },
  },
  auditQuery: {
    type: 'object',
    additionalProperties: false,
    properties: {
      integration_id: { type: 'string', maxLength: 64 },
      // Query strings are text and types are never coerced: digits only, parsed by the route.
      after: { type: 'string', pattern: '^[0-9]{1,15}$' },
      limit: { type: 'string', pattern: '^(?:[1-9][0-9]{0,2}|1000)$' },
    },
  },
  outbound: {
    type: 'object',
    additionalProperties: false,
    required: ['integration_id', 'operation', 'payload', 'request_id'],
    properties: {
      integration_id: { type: 'string', pattern: '^[A-Za-z0-9_]{1,64}$' },
      operation: { type: 'string', pattern: '^[a-z_]{1,64}$' },
      payload: { type: 'object' },
      // Printable ids only: they are echoed into audit events and envelopes.
      request_id: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' },
      session_id: { anyOf: [{ type: 'null' }, { type: 'string', pattern: '^[A-Za-z0-9_]{1,64}$' }] },
      recipient_key_id: { type: 'string', pattern: '^[A-Za-z0-9_]{1,64}$' },
    },
  },
  pipeline: {
    type: 'object',
    additionalProperties: false,
    required: ['integration_id', 'request_id', 'calls'],
    properties: {
      integration_id: { type: 'string', pattern: '^[A-Za-z0-9_]{1,64}$' },
      request_id: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' },
      recipient_key_id: { type: 'string', pattern: '^[A-Za-z0-9_]{1,64}$' },
      // Sessionless calls only: a session is one connection's state, which a pipeline's
      // concurrent calls cannot share.
      calls: {
        type: 'array',
        minItems: 1,
        maxItems: PIPELINE_MAX_CALLS,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['operation', 'payload'],
          properties: { operation: { type: 'string', pattern: '^[a-z_]{1,64}$' }, payload: { type: 'object' } },
        },
      },
    },
  },
} as const;
