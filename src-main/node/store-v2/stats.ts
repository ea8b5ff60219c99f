// The v2 store's counters (etcd's store stats): which counter each write moves, and their zeros.
import type { V2Op, V2StoreStats } from './types.js';

/** Every counter but `watchers`, which is counted from the live watchers when asked. */
export type StoreCounters = Omit<V2StoreStats, 'watchers'>;

type WriteStat = 'sets' | 'delete' | 'update' | 'create' | 'compareAndSwap' | 'compareAndDelete';

/** The counter pair a write moves; null: `expire`, counted as expireCount on success only. */
export const OP_STAT: Readonly<Record<V2Op, WriteStat | null>> = {
  set: 'sets',
  create: 'create',
  createInOrder: 'create',
  update: 'update',
  compareAndSwap: 'compareAndSwap',
  delete: 'delete',
  compareAndDelete: 'compareAndDelete',
  expire: null,
};

export function newCounters(): StoreCounters {
  return {
    getsSuccess: 0,
    getsFail: 0,
    setsSuccess: 0,
    setsFail: 0,
    deleteSuccess: 0,
    deleteFail: 0,
    updateSuccess: 0,
    updateFail: 0,
    createSuccess: 0,
    createFail: 0,
    compareAndSwapSuccess: 0,
    compareAndSwapFail: 0,
    compareAndDeleteSuccess: 0,
    compareAndDeleteFail: 0,
    expireCount: 0,
  };
}
