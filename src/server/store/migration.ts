/** One numbered schema step. Steps are applied in `version` order and never edited once released. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The steps not yet applied, in order. Throws when the database is ahead of this build (a newer
 * node migrated it): running old code on a newer schema could write rows it does not understand.
 */
export function pendingMigrations(all: readonly Migration[], applied: ReadonlySet<number>, onNewer: (version: number) => Error): Migration[] {
  const known = new Set(all.map((m) => m.version));
  for (const v of applied) if (!known.has(v)) throw onNewer(v);
  return [...all].sort((a, b) => a.version - b.version).filter((m) => !applied.has(m.version));
}
