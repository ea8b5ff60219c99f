// The only thing the sandboxed window gets: `window.raftlab`, the RaftlabBridge. Commands go
// to the main process over one IPC channel; event batches come back over another.

import { IPC, type RaftlabBridge, type TraceChunk } from '../../src-shared/bridge.js';
import type { CommandRequest, ServerEvent } from '../../src-shared/protocol.js';
import type { ElectronPreload } from './electron-api.js';

// A sandboxed preload is CommonJS and may require only 'electron' (the build emits require()).
// eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
const { contextBridge, ipcRenderer } = require('electron') as ElectronPreload;

const bridge: RaftlabBridge = {
  kind: 'electron',
  send: (request: CommandRequest) => ipcRenderer.send(IPC.command, request),
  readTrace: (from: number, max: number) => ipcRenderer.invoke(IPC.readTrace, from, max) as Promise<TraceChunk>,
  onEvents(listener) {
    const handler = (_event: unknown, batch: unknown) => listener(batch as ServerEvent[]);
    ipcRenderer.on(IPC.events, handler);
    return () => ipcRenderer.off(IPC.events, handler);
  },
};

contextBridge.exposeInMainWorld('raftlab', bridge);
