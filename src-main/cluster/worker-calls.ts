// The supervisor's calls as a node's worker answers them (worker-protocol.ts's WorkerCall):
// membership, leader transfer, a v2 kv request to the node's own client port (over TLS in a
// secured cluster), step mode's deliveries and ticks, and the clock's offset and rate.

import https from 'node:https';
import type { KvResult } from '../../src-shared/command-results.js';
import type { RunningNode } from '../node/node-server.js';
import type { RaftNode } from '../node/raft-node.js';
import { clientTLSOptions, type TLSInfo } from '../node/tls-info.js';
import type { AddMemberReply, StepCall, StepReply, WorkerCall } from './worker-protocol.js';

export function stepCall(node: RaftNode, c: StepCall): StepReply | undefined {
  if (c.op === 'setManual') {
    node.setManual(c.on, { seed: c.seed });
    return undefined;
  }
  const commitBefore = node.status().commit;
  const events = c.op === 'deliver' ? node.deliver(c.msgs) : c.op === 'tick' ? node.tickOnce() : node.campaignNow();
  return { events, commitBefore };
}

/** A request to the node's own client port over TLS, presenting the node's own key pair (as etcd's gateway does). */
function httpsText(
  url: URL,
  init: { method: string; body?: string; headers?: Record<string, string>; timeoutMs: number },
  tlsInfo: TLSInfo | undefined,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method: init.method,
      headers: init.headers,
      ...(tlsInfo ? clientTLSOptions(tlsInfo) : {}),
      agent: false,
    });
    const timer = setTimeout(
      () => req.destroy(new Error(`request to ${url.origin} timed out after ${init.timeoutMs}ms`)),
      init.timeoutMs,
    );
    req.on('error', (e) => (clearTimeout(timer), reject(e)));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('error', reject);
      res.on(
        'end',
        () => (
          clearTimeout(timer),
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') })
        ),
      );
    });
    req.end(init.body);
  });
}

async function kvRequest(
  base: string,
  c: Extract<WorkerCall, { op: 'kv' }>,
  speed: number,
  tlsInfo?: TLSInfo,
): Promise<KvResult> {
  // Each segment encoded: "?", "#", "%" or "\\" in a key are part of the key, not of the URL.
  // ("." and ".." segments are refused by parseCommand; checked again here, where the URL is made.)
  const url = new URL(`/v2/keys${c.key.split('/').map(encodeURIComponent).join('/')}`, base);
  if (url.pathname !== '/v2/keys' && !url.pathname.startsWith('/v2/keys/'))
    throw new Error(`kv: key ${JSON.stringify(c.key)} leaves /v2/keys`);
  for (const [k, v] of Object.entries(c.query ?? {})) url.searchParams.set(k, v);
  // In slow motion a write takes longer by as much as the cluster is slowed.
  const init: RequestInit = { method: c.method, signal: AbortSignal.timeout(15_000 / speed) };
  if (c.value !== undefined && (c.method === 'PUT' || c.method === 'POST')) {
    init.body = new URLSearchParams({ value: c.value }).toString();
    init.headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
  }
  const { status, text } =
    url.protocol === 'https:'
      ? await httpsText(
          url,
          {
            method: c.method,
            body: init.body as string | undefined,
            headers: init.headers as Record<string, string> | undefined,
            timeoutMs: 15_000 / speed,
          },
          tlsInfo,
        )
      : await fetch(url, init).then(async (res) => ({ status: res.status, text: await res.text() }));
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  return { status, body };
}

export function applyClock(r: RunningNode, c: { offsetMs?: number; rate?: number }): void {
  if (c.rate !== undefined) r.node.clock.setRate(c.rate);
  if (c.offsetMs !== undefined) r.node.clock.setOffset(c.offsetMs);
}

/** A call other than a step or a checkpoint's freeze and thaw (answered in the message's own turn). */
export async function answerCall(
  r: RunningNode,
  c: WorkerCall,
  speed: number,
  clientTLS?: TLSInfo,
): Promise<AddMemberReply | KvResult | StepReply | boolean | undefined> {
  switch (c.op) {
    case 'addMember': {
      const member = await r.node.members.add([c.peerURL], { learner: c.learner === true });
      return { member, members: r.node.members.list() };
    }
    case 'removeMember':
      await r.node.members.remove(c.id);
      return undefined;
    case 'promoteMember':
      await r.node.members.promote(c.id);
      return undefined;
    case 'transferLeader':
      r.node.transferLeader(c.to);
      return undefined;
    case 'kv': {
      const [url] = r.clientURLs;
      if (url === undefined) throw new Error('this node listens on no client URL');
      return kvRequest(url, c, speed, clientTLS);
    }
    case 'dropMessage':
      return false;
    case 'setManual':
    case 'deliver':
    case 'tick':
    case 'campaign':
      return stepCall(r.node, c);
    case 'freeze':
    case 'thaw':
      throw new Error(`${c.op} is answered synchronously`);
  }
}
