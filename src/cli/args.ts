import { parseArgs, type ParseArgsConfig } from 'node:util';
import { QsError } from '../protocol/errors.js';

/** parseArgs with strict options: an unknown flag is an error, never silently ignored. */
type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: true }>>;

export function parseFlags<T extends Options>(argv: string[], options: T): Parsed<T> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new QsError('QS_CONFIG', (err as Error).message);
  }
}

export function requireFlag(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new QsError('QS_CONFIG', `--${name} is required`);
  return value;
}
