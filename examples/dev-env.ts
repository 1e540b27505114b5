/**
 * Lets the examples run against `npm start` with no set-up: when the QUANTASEAL_* variables are
 * not set, take them from the dev server's state in ./.quantaseal (written by `quantaseal dev`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

if (!process.env.QUANTASEAL_API_KEY) {
  const dir = path.resolve(process.env.QS_DATA_DIR ?? '.quantaseal');
  try {
    const dev = JSON.parse(readFileSync(path.join(dir, 'dev-credentials.json'), 'utf8')) as Record<string, string>;
    process.env.QUANTASEAL_URL ??= 'http://127.0.0.1:8080';
    process.env.QUANTASEAL_API_KEY = dev.api_key;
    process.env.QUANTASEAL_INTEGRATION_ID = dev.integration_id;
    process.env.QUANTASEAL_CLIENT_KEYS = dev.client_keys_path;
  } catch {
    console.error('Start the dev server first (npm start), or set QUANTASEAL_URL, QUANTASEAL_API_KEY, QUANTASEAL_INTEGRATION_ID and QUANTASEAL_CLIENT_KEYS.');
    process.exit(2);
  }
}
