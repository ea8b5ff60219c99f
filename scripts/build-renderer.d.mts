export function rendererIsStale(): boolean;
/** Builds out/renderer if stale (or always with force); true if it built. */
export function buildRenderer(options?: { force?: boolean }): Promise<boolean>;

/** The newest modification time of any file under `dir` (ms). */
export function newest(dir: string): number;
