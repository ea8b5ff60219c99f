export function findElectron():
  { bin: string; version: string; reason?: undefined } | { reason: string; bin?: undefined; version?: undefined };
export function ensureElectronSqlite(version: string): string;
export function buildElectronApp(): string;
export function electronArgs(main: string): string[];
