#!/usr/bin/env -S node --max-semi-space-size=4
// The `raftlab` command. `raftlab node` runs from the compiled bundle (out/cli/raftlab.mjs,
// rebuilt here in ~0.2 s when missing or older than the sources) so that a node starts at once,
// as etcd does. The other commands start worker threads whose entry is TypeScript, so they
// run the sources through tsx.
//
// --max-semi-space-size=4: V8's young generation kept at 4 MiB semi-spaces (it grows to 16 by
// default). A member's garbage is mostly short-lived request objects; smaller semi-spaces are
// scavenged more often but each scavenge is shorter and fits the CPU's cache. Three members on
// loopback, v2 PUTs, alternated with the default: a lower p99 in 6 of 6 pairs (4 at 16 clients,
// 2 at 64) and writes/s +0.4% to +17%. 2 MiB was worse at 64 clients and no different at one
// client, where a scavenge takes under 1 ms anyway. The app's member threads get the same
// (cluster/workers.ts, MEMBER_YOUNG_GENERATION_MB).
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
