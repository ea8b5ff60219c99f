export const cliBundle: string;
export function cliIsStale(): boolean;
export function buildCli(options?: { force?: boolean }): Promise<boolean>;
