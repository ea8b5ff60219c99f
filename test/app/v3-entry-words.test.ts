// The window's log tables name each v3 entry in a few words, from the entry as the node writes
// it to its log (v3Entry: the command's deterministic JSON), so a lease expiry reads as
// "lease revoke <id>", the id as etcdctl prints it.
import { describe, expect, it } from 'vitest';
import { summarizeEntryData } from '../../src-main/cluster/worker-summaries.js';
import { v3Entry } from '../../src-main/node/state-machine.js';
import type { V3Command } from '../../src-main/v3/command.js';

const words = (cmd: V3Command) => summarizeEntryData('normal', JSON.stringify(v3Entry('r1', cmd)));
const b = (s: string) => Buffer.from(s);

describe('v3 log entries in words', () => {
  it('names puts, deletes, txns, compactions and leases', () => {
    expect(words({ put: { key: b('/a'), value: b('1') } as never })).toBe('put /a=1');
    expect(words({ delete_range: { key: b('/p/'), range_end: b('/p0') } as never })).toBe('del /p/…');
    expect(words({ delete_range: { key: b('/a') } as never })).toBe('del /a');
    expect(
      words({
        txn: {
          compare: [{ key: b('/cas') }],
          success: [{ request_put: { key: b('/cas'), value: b('n') } }],
          failure: [{ request_range: { key: b('/cas') } }],
        } as never,
      }),
    ).toBe('txn /cas');
    expect(words({ compaction: { revision: 12 } as never })).toBe('compact 12');
    expect(words({ lease_grant: { ID: 0x694d77aa9e38260fn, TTL: 10 } })).toBe('lease grant 694d77aa9e38260f 10s');
    expect(words({ lease_revoke: { ID: 0xb0a57n } })).toBe('lease revoke 00000000000b0a57');
  });

  it("cuts a long one to the log table's width", () => {
    expect(words({ put: { key: b('/k'), value: b('x'.repeat(100)) } as never })).toMatch(/^put \/k=x+…$/);
    expect(words({ put: { key: b('/k'), value: b('x'.repeat(100)) } as never }).length).toBe(48);
  });
});
