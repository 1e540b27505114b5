import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/**
 * Where a worker thread's module is and how to start it: the `.js` file next to the caller when
 * running the built package, the `.ts` file under tsx (tests, `npm run bench` from source) — with
 * tsx loaded into the worker by an absolute URL, since `--import tsx` resolves from the cwd.
 */
export function workerLocation(callerUrl: string, baseName: string, override?: URL): { filename: string; execArgv: string[] } {
  const fromSource = callerUrl.endsWith('.ts');
  const file = override ?? new URL(`./${baseName}${fromSource ? '.ts' : '.js'}`, callerUrl);
  const execArgv = [...process.execArgv];
  if (file.pathname.endsWith('.ts') && !execArgv.some((a) => a.includes('tsx'))) {
    execArgv.push('--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href);
  }
  return { filename: file.href, execArgv };
}

/**
 * A `new Worker()` for our own module `baseName`: the built `.js` as is; from source, a tiny
 * bootstrap that registers tsx inside the worker before importing the `.ts` (an `--import tsx`
 * in a worker's execArgv is not reliably in place before its entry module loads on Node 20).
 */
export function workerEntry(callerUrl: string, baseName: string): { entry: string | URL; eval: boolean } {
  const { filename } = workerLocation(callerUrl, baseName);
  if (!filename.endsWith('.ts')) return { entry: new URL(filename), eval: false };
  // The ESM entry of tsx's API (require.resolve would give its CommonJS twin).
  const tsxApi = import.meta.resolve('tsx/esm/api');
  return {
    entry: `import(${JSON.stringify(tsxApi)}).then((m) => m.register()).then(() => import(${JSON.stringify(filename)}));`,
    eval: true,
  };
}
