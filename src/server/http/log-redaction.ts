/**
 * pino paths that must never reach a log line (DESIGN non-negotiable 6): API keys, the admin
 * token, DSNs and anything under a request body (SQL parameters may be PII).
 */
export const REDACT_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers["x-admin-token"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers["x-api-key"]',
  'apiKey',
  'api_key',
  'dsn',
  'values.dsn',
  'body',
  'req.body',
  'params',
  '*.password',
  '*.dsn',
  '*.apiKey',
  '*.secretKey',
];
