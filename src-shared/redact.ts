// Secrets a command may carry (a password) are never recorded: the trace keeps the command
// with the secret replaced, so a replay still shows what was done, and who logged in.
import type { Command } from './commands.js';

/** What stands in a recorded command for a password. */
export const HIDDEN = '(hidden)';

/** `cmd` as it may be written down: every password replaced by HIDDEN (the same object when it has none). */
export function redactCommand(cmd: Command): Command {
  switch (cmd.type) {
    case 'attach':
      return cmd.password === undefined ? cmd : { ...cmd, password: HIDDEN };
    case 'login':
      return { ...cmd, password: HIDDEN };
    case 'startCluster':
      return cmd.secure?.rootPassword === undefined ? cmd : { ...cmd, secure: { ...cmd.secure, rootPassword: HIDDEN } };
    default:
      return cmd;
  }
}
