// What a window talks to, in Electron or browser mode: the local cluster (the Supervisor) or,
// after an `attach` command, a cluster raftlab did not start. Commands go to the current
// source; `attach` and `detach` switch it, and the window then gets the new source's greeting.

import { EventEmitter } from 'node:events';
import type { CommandRequest, ServerEvent } from '../../src-shared/protocol.js';
import { AttachedSource } from '../attach/attached-source.js';
import type { Supervisor } from '../cluster/supervisor.js';

/** What a window is served from: the Supervisor itself, an attached cluster, or a WindowCore. */
export interface WindowSource {
  on(event: 'events', listener: (batch: ServerEvent[]) => void): unknown;
  off(event: 'events', listener: (batch: ServerEvent[]) => void): unknown;
  greeting(): ServerEvent[];
  handle(req: CommandRequest): Promise<void>;
}

export class WindowCore extends EventEmitter<{ events: [ServerEvent[]] }> {
  private current: WindowSource;
  private attached?: AttachedSource;
  private readonly relay = (batch: ServerEvent[]) => this.emit('events', batch);

  constructor(readonly supervisor: Supervisor) {
    super();
    this.current = supervisor;
    supervisor.on('events', this.relay);
  }

  greeting(): ServerEvent[] {
    return this.current.greeting();
  }

  async handle(req: CommandRequest): Promise<void> {
    const { cmd } = req;
    if (cmd.type !== 'attach' && cmd.type !== 'detach') return this.current.handle(req);
    try {
      if (cmd.type === 'attach') {
        const next = new AttachedSource(cmd.urls, cmd.prefix ?? '/');
        this.switchTo(next);
        await this.dropAttached();
        this.attached = next.start();
      } else {
        this.switchTo(this.supervisor);
        await this.dropAttached();
      }
      this.emit('events', [...this.current.greeting(), { type: 'ack', id: req.id }]);
    } catch (err) {
      this.emit('events', [{ type: 'error', id: req.id, message: err instanceof Error ? err.message : String(err) }]);
    }
  }

  async stop(): Promise<void> {
    this.supervisor.off('events', this.relay);
    await this.dropAttached();
  }

  private switchTo(next: WindowSource): void {
    this.current.off('events', this.relay);
    this.current = next;
    next.on('events', this.relay);
  }

  private async dropAttached(): Promise<void> {
    const a = this.attached;
    this.attached = undefined;
    if (a) {
      a.off('events', this.relay);
      await a.stop();
    }
  }
}
