// A plain pg app: the only change from direct PostgreSQL is the import.
import './dev-env.js';
import { QsPool } from 'quantaseal';

const pool = new QsPool();
await pool.query('CREATE TABLE IF NOT EXISTS example_notes (id serial PRIMARY KEY, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())');
const { rows: inserted } = await pool.query('INSERT INTO example_notes (body) VALUES ($1), ($2) RETURNING id, body', ['hello', 'post-quantum']);
console.log('inserted', inserted);
const { rows, fields } = await pool.query('SELECT id, body, created_at FROM example_notes ORDER BY id DESC LIMIT $1', [3]);
console.log('latest', rows, 'created_at is a', rows[0]?.created_at?.constructor.name, 'field types', fields.map((f) => f.dataTypeID));

const client = await pool.connect();
try {
  await client.query('BEGIN');
  await client.query('DELETE FROM example_notes WHERE body = $1', ['hello']);
  await client.query('ROLLBACK');
} finally {
  client.release();
}
console.log('rolled back; count is', (await pool.query('SELECT count(*)::int AS n FROM example_notes')).rows[0]);
await pool.end();
