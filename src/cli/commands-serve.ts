import type { ServerConfig } from '../server/config.js';
import { startServer, type RunningServer } from '../server/server.js';

/** Resolves with an exit code after SIGINT/SIGTERM and a clean shutdown. */
export function untilSignal(server: RunningServer, log: (line: string) => void): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: closing sessions, flushing the audit log…`);
      server.close().then(
        () => {
          log('stopped cleanly');
          resolve(0);
        },
        (err: unknown) => {
          log(`shutdown error: ${(err as Error).message}`);
          resolve(1);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

/** `quantaseal serve`. Undefined options fall back to QS_* variables, then defaults. */
export async function serve(overrides: Partial<ServerConfig>): Promise<number> {
  const clean = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as Partial<ServerConfig>;
  const server = await startServer(clean);
  const { ctx } = server;
  console.error(`quantaseal: listening on ${server.url} (store ${ctx.store.kind}, kms ${ctx.kms.keyRef}, crypto ${ctx.backend.detail}, signing key ${ctx.signingKey.keyId})`);
  return untilSignal(server, (line) => console.error(`quantaseal: ${line}`));
}
