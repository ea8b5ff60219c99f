// etcd 3.4's alarms (etcdserver/api/v3alarm): a member raises one (NOSPACE when its backend is
// over the quota) through the log, so every member holds the same set; while NOSPACE is raised
// the applier refuses what would grow the store (etcd's applierV3Capped). Disarming goes through
// the log too. Replicated state: part of the v3 snapshot.

export const ALARM_TYPES = ['NONE', 'NOSPACE', 'CORRUPT'] as const;
export type AlarmType = (typeof ALARM_TYPES)[number];

/** etcdserverpb.AlarmMember: a member id (uint64) and what it raised. */
export interface AlarmMember {
  memberID: bigint;
  alarm: AlarmType;
}

export type AlarmAction = 'GET' | 'ACTIVATE' | 'DEACTIVATE';

export interface AlarmRequest {
  action: AlarmAction;
  memberID: bigint;
  alarm: AlarmType;
}

/** [alarm type, member id as decimal], sorted. */
export type AlarmsSnapshot = [AlarmType, string][];

export class AlarmStore {
  /** By type, then member id (decimal): etcd's map of alarmSets. */
  private readonly raised = new Map<AlarmType, Map<string, AlarmMember>>();

  /** etcd's Get: every alarm for NONE, else those of one type (ordered by type, then member id). */
  get(type: AlarmType): AlarmMember[] {
    const types = type === 'NONE' ? ALARM_TYPES.filter((t) => t !== 'NONE') : [type];
    return types.flatMap((t) =>
      [...(this.raised.get(t)?.values() ?? [])].sort((a, b) => (a.memberID < b.memberID ? -1 : 1)),
    );
  }

  has(type: AlarmType): boolean {
    return (this.raised.get(type)?.size ?? 0) > 0;
  }

  /** etcd's applierV3backend.Alarm: what the answer lists (the alarm raised or cleared, if it changed). */
  apply(r: AlarmRequest): AlarmMember[] {
    switch (r.action) {
      case 'GET':
        return this.get(r.alarm);
      case 'ACTIVATE': {
        // etcd stores whatever type it is given; NONE is refused here as an unknown activation would be.
        if (r.alarm === 'NONE') return [];
        let set = this.raised.get(r.alarm);
        if (!set) this.raised.set(r.alarm, (set = new Map()));
        const id = r.memberID.toString();
        const m = set.get(id) ?? { memberID: r.memberID, alarm: r.alarm };
        set.set(id, m);
        return [{ ...m }];
      }
      case 'DEACTIVATE': {
        const set = this.raised.get(r.alarm);
        const m = set?.get(r.memberID.toString());
        if (!m) return [];
        set!.delete(r.memberID.toString());
        return [{ ...m }];
      }
    }
  }

  toSnapshot(): AlarmsSnapshot {
    return this.get('NONE').map((m) => [m.alarm, m.memberID.toString()]);
  }

  restore(s: AlarmsSnapshot | undefined): void {
    this.raised.clear();
    for (const [alarm, id] of s ?? []) this.apply({ action: 'ACTIVATE', alarm, memberID: BigInt(id) });
  }
}
