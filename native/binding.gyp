# quantaseal's build of PQClean's ML-DSA-65 and ML-KEM-768 (see qs_pqc.c for why it exists).
# Built by native/build.mjs at install; the sources come from the installed pqclean package.
{
  'targets': [
    {
      'target_name': 'qs_pqc',
      'sources': [
        'qs_pqc.c',
        '<!@(node pqclean-paths.mjs sources)',
      ],
      'include_dirs': ['<!@(node pqclean-paths.mjs include)'],
      'conditions': [
        ['OS != "win" and OS != "mac"', {
          # Link-time optimization lets the compiler inline the field arithmetic across PQClean's
          # files; -fno-semantic-interposition lets it do so inside a shared object.
          'cflags': ['-O3', '-flto=auto', '-fno-semantic-interposition', '-fvisibility=hidden'],
          'ldflags': ['-O3', '-flto=auto', '-fno-semantic-interposition'],
        }],
        ['OS == "linux" and target_arch == "x64"', {
          # x86-64-v2 (SSSE3, SSE4.1/4.2, POPCNT: every x86-64 CPU since ~2009) vectorizes the
          # polynomial loops. The loader checks the CPU before it loads this build.
          'cflags': ['-march=x86-64-v2'],
          'ldflags': ['-march=x86-64-v2'],
        }],
      ],
    },
  ],
}
