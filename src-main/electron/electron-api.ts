// The few Electron main-process APIs the app uses, typed here because the `electron` package (an
// optional dependency) is absent wherever its binary could not be downloaded, and the rest of the
// code must still typecheck there. Shapes follow Electron's own typings, reduced to what we call.

export interface WebContents {
  send(channel: string, ...args: unknown[]): void;
  on(event: 'did-finish-load', listener: () => void): void;
  on(event: 'will-navigate', listener: (event: { preventDefault(): void }, url: string) => void): void;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' | 'allow' }): void;
  isDestroyed(): boolean;
}

export interface BrowserWindowInstance {
  webContents: WebContents;
  loadFile(file: string): Promise<void>;
  isDestroyed(): boolean;
  on(event: 'closed', listener: () => void): void;
}

export interface ElectronMain {
  app: {
    whenReady(): Promise<void>;
    on(event: 'window-all-closed' | 'before-quit', listener: (event: { preventDefault(): void }) => void): void;
    quit(): void;
    exit(code?: number): void;
    getVersion(): string;
    getPath(name: 'downloads' | 'userData' | 'temp'): string;
  };
  BrowserWindow: new (options: {
    width: number;
    height: number;
    title: string;
    backgroundColor?: string;
    show?: boolean;
    webPreferences: {
      preload: string;
      contextIsolation: boolean;
      sandbox: boolean;
      nodeIntegration: boolean;
      webSecurity?: boolean;
    };
  }) => BrowserWindowInstance;
  ipcMain: {
    on(channel: string, listener: (event: { sender: WebContents }, ...args: unknown[]) => void): void;
    handle(channel: string, listener: (event: { sender: WebContents }, ...args: unknown[]) => unknown): void;
  };
  session: {
    defaultSession: {
      webRequest: {
        onHeadersReceived(
          listener: (
            details: { responseHeaders?: Record<string, string[]> },
            callback: (response: { responseHeaders: Record<string, string[]> }) => void,
          ) => void,
        ): void;
      };
      setPermissionRequestHandler(
        handler: (wc: unknown, permission: string, callback: (ok: boolean) => void) => void,
      ): void;
    };
  };
}

export interface ElectronPreload {
  contextBridge: { exposeInMainWorld(key: string, api: unknown): void };
  ipcRenderer: {
    send(channel: string, ...args: unknown[]): void;
    invoke(channel: string, ...args: unknown[]): Promise<unknown>;
    on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): void;
    off(channel: string, listener: (event: unknown, ...args: unknown[]) => void): void;
  };
}
