// Scenarios: the file format is checked with clear errors, each step means the commands it
// says against the cluster as it is, and `raftlab run` plays one headless on a real cluster
// (as a process, with Debian-free plain Node), writing a trace that shows what happened.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClusterState, NodeState } from '../../src-shared/cluster-state.js';
import { commandsFor, parseScenario } from '../../src-shared/scenario.js';
import { readTraceFile } from '../../src-main/trace/trace-reader.js';
import { nth } from '../helpers/checked.js';
import { RAFTLAB_BIN } from '../helpers/processes.js';
import { nodeState } from '../helpers/node-state.js';

const base = { scenario: 'raftlab-scenario', version: 1 };

function cluster(leader: string, names = ['n1', 'n2', 'n3', 'n4', 'n5']): ClusterState {
  const node = (name: string): NodeState =>
    nodeState(name, {
      id: name,
      role: name === leader ? 'leader' : 'follower',
      term: 2,
      vote: leader,
      lead: leader,
      commit: 1,
      applied: 1,
      lastIndex: 1,
    });
  return { dir: '', generation: 1, nodes: names.map(node), cuts: [] };
}

describe('scenario files', () => {
  it('normalizes times and sorts steps; refuses what it cannot read, saying where', () => {
    const s = parseScenario({
      ...base,
      nodes: 5,
      steps: [
        { at: '2s', kill: 'leader' },
        { at: '250ms', put: { key: '/a', value: '1' } },
        { at: 1500, skew: { node: 'n3', offset: '+3s', rate: 2 } },
      ],
    });
    expect(s.steps.map((x) => x.at)).toEqual([250, 1500, 2000]);
    expect(s.steps[1]).toEqual({ at: 1500, skew: { node: 'n3', offset: 3000, rate: 2 } });
    expect(s.end).toBe(4000);
    expect(() => parseScenario({ scenario: 'x' })).toThrow(/not a raftlab scenario/);
    expect(() => parseScenario({ ...base, version: 9, steps: [] })).toThrow(/version 9/);
    expect(() => parseScenario({ ...base, steps: [{ at: '1s', kill: 'n1', put: {} }] })).toThrow(
      /step 1: needs exactly one action/,
    );
    expect(() => parseScenario({ ...base, steps: [{}, { at: 'soon', kill: 'n1' }] })).toThrow(
      /step 1: needs exactly one action/,
    );
    expect(() => parseScenario({ ...base, steps: [{ at: 'soon', kill: 'n1' }] })).toThrow(
      /step 1 "at": "soon" is not a duration/,
    );
    expect(() => parseScenario({ ...base, steps: [{ put: { key: 'a', value: '1' } }] })).toThrow(/starting with "\/"/);
  });

  it('means commands against the cluster as it is: "leader", "rest", isolate, partition', () => {
    const c = cluster('n2');
    const s = parseScenario({
      ...base,
      nodes: 5,
      steps: [
        { kill: 'leader' },
        { isolate: 'leader' },
        { partition: [['leader', 'n1'], ['rest']] },
        { put: { key: '/k', value: 'v' } },
        { restart: 'all' },
      ],
    });
    expect(commandsFor(nth(s.steps, 0), c)).toEqual([{ type: 'killNode', name: 'n2' }]);
    expect(commandsFor(nth(s.steps, 1), c)).toEqual(
      ['n1', 'n3', 'n4', 'n5'].map((b) => ({ type: 'cutLink', a: 'n2', b })),
    );
    const cuts = commandsFor(nth(s.steps, 2), c).map((x) => (x.type === 'cutLink' ? `${x.a}-${x.b}` : ''));
    expect(cuts.sort()).toEqual(['n1-n3', 'n1-n4', 'n1-n5', 'n2-n3', 'n2-n4', 'n2-n5']);
    expect(commandsFor(nth(s.steps, 3), c)).toEqual([{ type: 'kv', name: 'n2', method: 'PUT', key: '/k', value: 'v' }]);
    expect(commandsFor(nth(s.steps, 4), c)).toEqual([]); // nothing is killed
    const noLeader = { ...c, nodes: c.nodes.map((n) => ({ ...n, role: 'follower' as const, lead: '' })) };
    expect(() => commandsFor(nth(s.steps, 0), noLeader)).toThrow(/no leader right now/);
  });
});

describe('raftlab run', () => {
  it('plays a scenario headless on a real cluster and writes a trace of it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raftlab-scenario-'));
    try {
      const file = path.join(dir, 's.json');
      // The restart comes late enough for the failover to happen first even on a busy machine
      // (an election timeout is up to 2 s here, plus the pre-vote and vote rounds).
      fs.writeFileSync(
        file,
        JSON.stringify({
          ...base,
          name: 'kill and come back',
          nodes: 3,
          end: '5s',
          steps: [
            { at: '0.2s', put: { key: '/x', value: '1' } },
            { at: '0.5s', kill: 'leader' },
            { at: '4.5s', restart: 'all' },
          ],
        }),
      );
      const trace = path.join(dir, 'out.jsonl');
      const out = await new Promise<{ code: number; stdout: string }>((resolve) => {
        execFile(
          process.execPath,
          [RAFTLAB_BIN, 'run', file, '--trace', trace, '--chrome', path.join(dir, 'out.chrome.json')],
          { timeout: 60_000 },
          (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
        );
      });
      expect(out.stdout).toMatch(/PUT \/x on n\d: ok/);
      expect(out.code).toBe(0);
      const t = await readTraceFile(trace);
      const killed = t.records.find((r) => r.kind === 'action' && r.cmd.type === 'killNode');
      expect(killed).toBeDefined();
      const victim = (killed as { cmd: { name: string } }).cmd.name;
      // After the kill, another node won an election: the trace shows the failover.
      const after = t.records.filter(
        (r) =>
          r.seq > killed!.seq &&
          r.kind === 'event' &&
          r.event.type === 'raft' &&
          r.event.event.kind === 'role' &&
          r.event.event.role === 'leader',
      );
      expect(after.some((r) => (r as { event: { node: string } }).event.node !== victim)).toBe(true);
      expect(t.records.some((r) => r.kind === 'action' && r.cmd.type === 'restartNode' && r.cmd.name === victim)).toBe(
        true,
      );
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'out.chrome.json'), 'utf8')).traceEvents.length).toBeGreaterThan(
        10,
      );
      // A bad file is refused with the reason, exit 2.
      fs.writeFileSync(file, '{"scenario":"raftlab-scenario","version":1,"steps":[{"at":"1s","explode":"n1"}]}');
      const bad = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(process.execPath, [RAFTLAB_BIN, 'run', file], { timeout: 30_000 }, (err, _o, stderr) =>
          resolve({ code: (err as { code?: number } | null)?.code ?? 0, stderr }),
        );
      });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('step 1: needs exactly one action');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
