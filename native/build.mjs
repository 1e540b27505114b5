// `npm install` runs this (the package's install script): builds native/qs_pqc.node, quantaseal's
// optimized build of PQClean's ML-DSA-65 and ML-KEM-768 (see qs_pqc.c). It is an accelerator,
// never a requirement: when the pqclean package, a compiler or Node's headers are missing, the
// install goes on and the crypto selector uses pqclean's own addon, its WASM, or noble.
//   QS_BUILD_NATIVE=0  skip the build
//   QS_BUILD_NATIVE=1  fail the install if the build fails (CI on a machine that must have it)
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const mode = process.env.QS_BUILD_NATIVE;
const say = (line) => console.log(`quantaseal: ${line}`);

function giveUp(why) {
  // A stale addon from an earlier build must not outlive a failed one.
  rmSync(path.join(here, 'build'), { recursive: true, force: true });
  if (mode === '1') {
    console.error(`quantaseal: optimized PQClean build failed: ${why}`);
    process.exit(1);
  }
  say(`optimized PQClean build skipped (${why}); the pqclean package's own build is used instead`);
  process.exit(0);
}

if (mode === '0') giveUp('QS_BUILD_NATIVE=0');
// Built and tested on Linux (and written for macOS and the BSDs); Windows keeps pqclean's build.
if (process.platform === 'win32') giveUp('not built on Windows');
try {
  createRequire(import.meta.url).resolve('pqclean/package.json');
} catch {
  giveUp('the optional dependency pqclean is not installed');
}

// npm's own node-gyp: npm names it in npm_config_node_gyp for lifecycle scripts; otherwise it sits
// next to the npm that runs us, or next to this Node's bundled npm, or on PATH.
const bundledNodeGyp = (npmDir) => path.join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const candidates = [
  process.env.npm_config_node_gyp,
  process.env.npm_execpath && bundledNodeGyp(path.join(path.dirname(process.env.npm_execpath), '..')),
  bundledNodeGyp(path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm')),
].filter((p) => typeof p === 'string' && p.endsWith('.js') && existsSync(p));
const [command, args] = candidates[0] ? [process.execPath, [candidates[0]]] : ['node-gyp', []];

const started = Date.now();
const result = spawnSync(command, [...args, 'rebuild', '--jobs', 'max'], { cwd: here, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (result.error) giveUp(`could not run node-gyp: ${result.error.message}`);
if (result.status !== 0) {
  // The compiler's own words, so a user can tell a missing toolchain from a real error.
  process.stderr.write(`${result.stdout}\n${result.stderr}`.split('\n').filter((l) => /error|warning: /i.test(l)).slice(0, 20).join('\n') + '\n');
  giveUp(`node-gyp exited with ${result.status}`);
}
say(`optimized PQClean build (ML-DSA-65, ML-KEM-768) ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
