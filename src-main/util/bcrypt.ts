// bcrypt as golang.org/x/crypto/bcrypt writes and checks it: etcd's auth stores every password
// this way (bcrypt.DefaultCost, 10). The work is bcryptjs's (pure JS; its async forms yield to the
// event loop between rounds, so a node checking a password keeps ticking its Raft and its peers);
// this module only keeps Go's choices: the "$2a$" prefix, its cost range, a false (not a throw)
// for anything that is not a hash.

import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';

/** golang.org/x/crypto/bcrypt's DefaultCost, which etcd's auth uses. */
export const BCRYPT_DEFAULT_COST = 10;
const MIN_COST = 4;
const MAX_COST = 31;
const HASH = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** A new hash of `password` ("$2a$" + cost + 22 salt + 31 hash characters, as Go writes it). */
export async function bcryptHash(
  password: string,
  cost = BCRYPT_DEFAULT_COST,
  salt: Uint8Array = randomBytes(16),
): Promise<string> {
  if (!Number.isInteger(cost) || cost < MIN_COST || cost > MAX_COST)
    throw new Error(`crypto/bcrypt: cost ${cost} is outside allowed range (${MIN_COST},${MAX_COST})`);
  if (salt.length !== 16) throw new Error('bcrypt: the salt must be 16 bytes');
  return bcrypt.hash(password, `$2a$${String(cost).padStart(2, '0')}$${bcrypt.encodeBase64([...salt], 16)}`);
}

/**
 * Whether `password` is the one `hash` was made from (bcrypt.CompareHashAndPassword == nil). A
 * password as raw bytes (Basic auth) that is not UTF-8 matches nothing: every stored hash was made
 * from a JSON string, which is UTF-8 by the time Go hashes it.
 */
export async function bcryptCompare(hash: string, password: string | Uint8Array): Promise<boolean> {
  const m = HASH.exec(hash);
  if (!m || Number(m[1]) < MIN_COST || Number(m[1]) > MAX_COST) return false;
  let text: string;
  try {
    text = typeof password === 'string' ? password : UTF8.decode(password);
  } catch {
    return false;
  }
  return bcrypt.compare(text, hash);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
