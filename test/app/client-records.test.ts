// Requests to a node's client port from outside the window (curl, etcdctl, any HTTP client)
// reach the window as `client` events and the session trace as `client` records.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WindowCore } from '../../src-main/app/window-core.js';
import { Supervisor } from '../../src-main/cluster/supervisor.js';
import { readTraceFile } from '../../src-main/trace/trace-reader.js';
import { agreedLeader, type ClusterState } from '../../src-shared/cluster-state.js';
import type { ServerEvent } from '../../src-shared/protocol.js';
import { until } from '../helpers/cluster.js';

describe('client requests in the window and the trace', () => {
  let sup: Supervisor;
  let core: WindowCore;
  const events: ServerEvent[] = [];
  let state: ClusterState | undefined;

  beforeAll(async () => {
    sup = new Supervisor({ heartbeatMs: 50, electionMs: 500 });
    core = new WindowCore(sup);
    core.on('events', (b) => {
      events.push(...b);
      for (const e of b) if (e.type === 'cluster') state = e.cluster;
    });
    await core.record(path.join(sup.dir, 'session.trace.jsonl'));
    await sup.start(3);
    await until('a leader', () => state && agreedLeader(state));
  });
  afterAll(async () => {
    await core.stop();
    await sup.stop();
  });

  it('records who asked what of which node, the answer and how long it took', async () => {
    const n2 = state!.nodes.find((n) => n.name === 'n2')!;
    const put = await fetch(`${n2.clientURL}/v2/keys/outside?prevExist=false`, {
      method: 'PUT',
      body: new URLSearchParams({ value: 'curl' }),
    });
    expect(put.status).toBe(201);
    expect((await fetch(`${n2.clientURL}/v2/keys/nope`)).status).toBe(404);
    const seen = await until('the client events', () => {
      const c = events.filter(
        (e): e is Extract<ServerEvent, { type: 'client' }> => e.type === 'client' && e.node === 'n2',
      );
      return c.length >= 2 && c;
    });
    expect(seen[0]).toMatchObject({ method: 'PUT', path: '/v2/keys/outside?prevExist=false', status: 201 });
    expect(seen[0]!.ms).toBeGreaterThan(0); // seen.length >= 2
    expect(seen[1]).toMatchObject({ method: 'GET', path: '/v2/keys/nope', status: 404 });
    const trace = await readTraceFile((await core.exportTrace('jsonl')).path);
    const recs = trace.records.filter((r) => r.kind === 'client');
    expect(recs.map((r) => `${r.node} ${r.method} ${r.path} ${r.status}`)).toEqual(
      expect.arrayContaining(['n2 PUT /v2/keys/outside?prevExist=false 201', 'n2 GET /v2/keys/nope 404']),
    );
  });
});
