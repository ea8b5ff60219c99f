// Password hashes, as etcd keeps them: bcrypt at cost 10 (util/bcrypt.ts, the same as v2 auth).
// The proposer hashes before proposing, so neither the log, the snapshot nor the trace ever
// holds a password (etcd 3.4 puts the password itself in its log and hashes it when applying;
// 3.5 hashes first, as here).
import { bcryptCompare, bcryptHash } from '../../util/bcrypt.js';

export function hashPassword(password: string): Promise<string> {
  return bcryptHash(password);
}

export function checkPassword(password: string, hashed: string): Promise<boolean> {
  return bcryptCompare(hashed, password);
}
