import type { ChangeNotice, ChangeTopic } from './store.js';

const TOPICS: ReadonlySet<string> = new Set<ChangeTopic>(['api_key', 'integration', 'credential', 'tenant', 'recipient_key']);

/**
 * The listeners of one store's change notices. Delivery calls each listener in turn; one that
 * throws does not stop the others (nor the LISTEN connection that called us), and the error is
 * surfaced as a process warning rather than swallowed.
 */
export class ChangeHub {
  readonly #listeners = new Set<(notice: ChangeNotice) => void>();

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: (notice: ChangeNotice) => void): () => void {
    // Wrap so subscribing the same function twice gives two independent subscriptions.
    const entry = (notice: ChangeNotice): void => listener(notice);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Calls every listener with the notice. */
  deliver(notice: ChangeNotice): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(notice);
      } catch (err) {
        process.emitWarning(`quantaseal: a change listener threw: ${(err as Error)?.message ?? String(err)}`, 'QuantasealWarning');
      }
    }
  }

  /** Number of listeners (lets a store skip work nobody is waiting for). */
  get size(): number {
    return this.#listeners.size;
  }

  /** Drops every listener (on close). */
  clear(): void {
    this.#listeners.clear();
  }
}

/** Validates a notice's shape: notices cross a process boundary on PostgreSQL. */
export function isChangeNotice(value: unknown): value is ChangeNotice {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.topic === 'string' && TOPICS.has(v.topic) && typeof v.id === 'string';
}

/** Parses a NOTIFY payload; null for anything that is not a well-formed notice. */
export function parseChangeNotice(payload: string | undefined): ChangeNotice | null {
  if (payload === undefined) return null;
  try {
    const parsed: unknown = JSON.parse(payload);
    return isChangeNotice(parsed) ? { topic: parsed.topic, id: parsed.id } : null;
  } catch {
    return null;
  }
}
