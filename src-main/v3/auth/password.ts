// Password hashes. etcd keeps bcrypt hashes (cost 10); no bcrypt is among this project's
// packages, so Node's scrypt (N=2^14, r=8, p=1, a 16-byte random salt) stands in, which costs
// about as much. The proposer hashes before proposing, so neither the log, the snapshot nor the
// trace ever holds a password (etcd 3.4 puts the password itself in its log and hashes it when
// applying; 3.5 hashes first, as here). Hashing and checking run off the event loop.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

const N = 16384;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, { N: n, r, p, maxmem: 128 * n * r * 2 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** "scrypt$N$r$p$salt$hash", salt and hash in base64. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P);
  return ['scrypt', N, R, P, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function checkPassword(password: string, hashed: string): Promise<boolean> {
  const [kind, n, r, p, salt, key] = hashed.split('$');
  if (kind !== 'scrypt' || !key) return false;
  const want = Buffer.from(key, 'base64');
  const got = await derive(password, Buffer.from(salt, 'base64'), Number(n), Number(r), Number(p));
  return got.length === want.length && timingSafeEqual(got, want);
}
