// The desktop app's main process: the same Supervisor as browser mode, its window an Electron
// BrowserWindow that talks to it only through the preload's bridge (src-shared/bridge.ts).
// The window is locked down: context isolation, a sandboxed renderer, no Node integration, a
// strict CSP, no navigation and no new windows.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IPC } from '../../src-shared/bridge.js';
import { LEARNING_SPEED } from '../../src-shared/commands.js';
import { parseRequest, type ServerEvent } from '../../src-shared/protocol.js';
import { WindowCore } from '../app/window-core.js';
import { Supervisor } from '../cluster/supervisor.js';
import type { ElectronMain } from './electron-api.js';
import { windowCsp } from '../web/csp.js';

// A specifier in a variable: typed by electron-api.ts, whether or not the package is installed.
const ELECTRON = 'electron';
const { app, BrowserWindow, ipcMain, session } = (await import(ELECTRON)) as ElectronMain;
const here = path.dirname(fileURLToPath(import.meta.url));

/** The renderer loads only its own files; it reaches the cluster through IPC, never the network. */
const CSP = windowCsp({ kind: 'ipc' });

await app.whenReady();
session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
  callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
});
session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));

const size = Number(process.env.RAFTLAB_NODES ?? 3);
const supervisor = new Supervisor();
// Recording starts before the cluster, so the first election is in the trace; exports go to
// the user's Downloads folder (the session folder is removed on quit).
const core = new WindowCore(supervisor, { exportDir: app.getPath('downloads') });
await core.record(path.join(supervisor.dir, 'session.trace.jsonl'));
await supervisor.start(size);
// The window opens in slow motion, where an election takes a few seconds to watch (×1 is one
// click away); the first election runs in real time, so nobody waits 10 s for a first leader.
await supervisor.waitForLeader(10_000);
await supervisor.execute({ type: 'setSpeed', speed: LEARNING_SPEED });

const win = new BrowserWindow({
  width: 1400,
  height: 900,
  title: 'raftlab',
  backgroundColor: '#f4f6f9',
  webPreferences: {
    preload: path.join(here, '../preload/index.cjs'),
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    webSecurity: true,
  },
});
win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
win.webContents.on('will-navigate', (event) => event.preventDefault());

const send = (batch: ServerEvent[]) => {
  if (!win.isDestroyed() && !win.webContents.isDestroyed()) win.webContents.send(IPC.events, batch);
};
core.on('events', send);
// A (re)loaded window first gets the story so far, as a browser-mode page does on connect.
win.webContents.on('did-finish-load', () => send(core.greeting()));
ipcMain.on(IPC.command, (event, raw) => {
  if (event.sender !== win.webContents) return; // only our window may drive the cluster
  try {
    void core.handle(parseRequest(raw));
  } catch (err) {
    const id = typeof (raw as { id?: unknown } | null)?.id === 'string' ? (raw as { id: string }).id : undefined;
    send([{ type: 'error', id, message: err instanceof Error ? err.message : String(err) }]);
  }
});

// The trace so far, for rewinding: asked for by the window, answered from the session's file.
ipcMain.handle(IPC.readTrace, (event, from, max) => {
  if (event.sender !== win.webContents) throw new Error('not our window');
  return core.readTrace(Number(from), Number(max));
});

let quitting = false;
app.on('window-all-closed', () => app.quit());
app.on('before-quit', (event) => {
  if (quitting) return;
  // Stop the nodes (their ports and SQLite files) before the process goes.
  event.preventDefault();
  quitting = true;
  void core
    .stop()
    .then(() => supervisor.stop())
    .finally(() => app.exit(0));
});

await win.loadFile(path.join(here, '../renderer/index.html'));
console.log(`raftlab: the window is open, with a real ${size}-node cluster`);
