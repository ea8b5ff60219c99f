// `npm start`: the app's front door. The window (Electron, or browser mode where Electron's
// binary cannot be had) is not built yet; say so plainly rather than pretend.
console.error(
  [
    'raftlab: the app window is not built yet.',
    'What exists today: the Raft core, its SQLite storage and the etcd v2 key store,',
    'proven by `npm test` (seeded chaos simulation) and measured by `npm run bench`.',
  ].join('\n'),
);
process.exit(1);
