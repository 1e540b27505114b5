// Prints what native/binding.gyp compiles: the PQClean sources of ML-DSA-65 and ML-KEM-768
// ("sources") or their include directories ("include"), one absolute path per line, taken from the
// installed pqclean package — the same C code its own addon is built from, at the version the
// lock file pins.
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(path.dirname(require.resolve('pqclean/package.json')), 'deps', 'PQClean');
const implementations = ['crypto_sign/ml-dsa-65/clean', 'crypto_kem/ml-kem-768/clean'];
const cFiles = (dir) =>
  readdirSync(path.join(root, dir))
    .filter((f) => f.endsWith('.c'))
    .sort()
    .map((f) => path.join(root, dir, f));

const print = (paths) => console.log(paths.map((p) => path.relative(here, p)).join('\n'));
const what = process.argv[2];
if (what === 'sources') {
  // fips202 (SHAKE, SHA-3) is all both algorithms take from common/; randombytes is qs_pqc.c's own.
  const common = ['fips202.c'].map((f) => path.join(root, 'common', f));
  print([...implementations.flatMap(cFiles), ...common]);
} else if (what === 'include') {
  print([root, path.join(root, 'common')]);
} else {
  console.error('usage: node pqclean-paths.mjs sources|include');
  process.exit(2);
}
