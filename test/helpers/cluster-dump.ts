// What a failing app test prints about the cluster it ran: each node as the supervisor sees it
// and the last lines the nodes logged (from the session's trace), so a rare failure in CI can be
// explained from its log alone.
import type { Supervisor } from '../../src-main/cluster/supervisor.js';
import { readTraceFile } from '../../src-main/trace/trace-reader.js';

export async function dumpCluster(sup: Supervisor, tracePath?: string, lines = 60): Promise<string> {
  const out = ['cluster at failure:'];
  for (const n of sup.snapshot().nodes) {
    out.push(
      `  ${n.name} ${n.status} ${n.role} term ${n.term} vote ${n.vote || '-'} lead ${n.lead || '-'} commit ${n.commit} applied ${n.applied} log ${n.firstIndex}..${n.lastIndex} peers ${n.peers.map((p) => `${p.id.slice(0, 6)}:${p.active ? 'up' : 'down'}`).join(',')}`,
    );
  }
  if (tracePath) {
    try {
      const { records } = await readTraceFile(tracePath);
      const logs = records.flatMap((r) =>
        r.kind === 'event' && r.event.type === 'log' ? [`  ${r.event.node}: ${r.event.line}`] : [],
      );
      const other = records.flatMap((r) =>
        r.kind === 'event' && (r.event.type === 'error' || r.event.type === 'fork')
          ? [`  ${new Date(r.at).toISOString()} ${JSON.stringify(r.event).slice(0, 300)}`]
          : [],
      );
      out.push('errors and forks:', ...other.slice(-20), `last ${lines} node log lines:`, ...logs.slice(-lines));
    } catch (err) {
      out.push(`(trace unreadable: ${err instanceof Error ? err.message : String(err)})`);
    }
  }
  return out.join('\n');
}
