#!/usr/bin/env node
// The `raftlab` command. `raftlab node` runs from the compiled bundle (out/cli/raftlab.mjs,
// rebuilt here in ~0.2 s when missing or older than the sources) so that a node starts at once,
// as etcd does. The other commands start worker threads whose entry is TypeScript, so they
// run the sources through tsx.
if (process.argv[2] === 'node') {
  const { buildCli, cliBundle } = await import('../scripts/build-cli.mjs');
  try {
    await buildCli();
  } catch (err) {
    // A read-only install or a missing esbuild: an existing bundle still serves.
    const fs = await import('node:fs');
    if (!fs.existsSync(cliBundle)) throw err;
  }
  // Node 22.1+ keeps the compiled bundle between launches (Node 20 has no such cache).
  const { default: nodeModule } = await import('node:module');
  nodeModule.enableCompileCache?.();
  await import(new URL(`file://${cliBundle}`).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src-main/cli.ts');
}
