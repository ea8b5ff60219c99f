// Import rules, checked by `npm test` (`npm run lint:deps`). The arrows of the layout in
// README.md: src-shared depends on nothing of ours; the renderer only on src-shared; the pure
// Raft core on nothing with I/O; the simulator and the checker are tools production never loads.
// An exception to a rule is a `pathNot` as narrow as one file, with its reason next to it.

/** Node built-ins that do I/O (or spawn it): the pure Raft core must not touch them. */
const IO_BUILTINS =
  '^(node:)?(fs|fs/promises|net|http|https|http2|tls|dgram|dns|dns/promises|child_process|cluster|worker_threads|readline)$';

/** A rule every violation of which fails `npm test`. */
const forbid = (name, comment, from, to) => ({ name, severity: 'error', comment, from, to });

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    forbid(
      'no-circular',
      'An import cycle: modules that cannot be read, tested or loaded one without the other. Move what both need to a third module.',
      { path: '^(src-main|src-shared|src-renderer)/' },
      { circular: true },
    ),
    forbid(
      'shared-imports-nothing-of-ours',
      'src-shared is loaded by the main process, the workers and the window alike: it imports only itself and npm packages (valibot).',
      { path: '^src-shared/' },
      { path: '^(src-main|src-renderer|scripts|test|bench)/' },
    ),
    forbid(
      'shared-no-node-builtins',
      'src-shared runs in the browser window too: no Node built-ins.',
      { path: '^src-shared/' },
      { dependencyTypes: ['core'] },
    ),
    forbid(
      'renderer-not-main',
      'The window talks to the main process through the bridge only (src-shared/bridge.ts, protocol.ts); it never loads main-process code.',
      { path: '^src-renderer/' },
      { path: '^src-main/' },
    ),
    forbid(
      'production-not-sim',
      'The simulator (src-main/sim) is a test tool; the app, the nodes and the chaos runner never load it. What both need (the seeded PRNG, the heap) lives in src-main/util.',
      { path: '^src-main/', pathNot: '^src-main/(sim|check)/' },
      { path: '^src-main/sim/' },
    ),
    forbid(
      'check-not-sim',
      'The simulator uses the linearizability checker (sim -> check); the checker never reaches back into the simulator.',
      { path: '^src-main/check/' },
      { path: '^src-main/sim/' },
    ),
    forbid(
      'raft-core-is-pure',
      'The Raft core (src-main/raft) is a pure state machine driven by Ready/Advance: no nodes, storage, cluster, app or web code, and no I/O.',
      { path: '^src-main/raft/' },
      { path: '^src-main/(node|storage|cluster|app|web|electron|attach|chaos|sim|check)/' },
    ),
    forbid(
      'raft-core-no-io',
      'The Raft core does no I/O: its caller persists and sends what Ready hands it.',
      { path: '^src-main/raft/' },
      { dependencyTypes: ['core'], path: IO_BUILTINS },
    ),
    // electron is an optionalDependency: absent where its binary cannot be had (as on this machine),
    // and only src-main/electron/ (never loaded in browser mode) imports it.
    forbid(
      'not-to-unresolvable',
      'An import the cruiser cannot resolve would escape every rule above (and would fail at run time).',
      { path: '^(src-main|src-shared|src-renderer)/' },
      { couldNotResolve: true, pathNot: '^electron$' },
    ),
  ],
  options: {
    // Only our own code is checked; packages are leaves.
    doNotFollow: { path: 'node_modules' },
    // `import type` counts: a cycle through types is still a cycle for a reader.
    tsPreCompilationDeps: true,
    // NodeNext: `./x.js` in a .ts file means ./x.ts (resolved through the tsconfig).
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.mjs', '.js', '.cjs', '.svelte', '.json', '.d.ts'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    // .svelte files are compiled by the svelte compiler (svelte 5 strips TypeScript itself);
    // their `import type` lines vanish in that step, so a .svelte file's type-only imports are
    // not checked (its value imports are).
    reporterOptions: { text: { highlightFocused: true } },
  },
};
