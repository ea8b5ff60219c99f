// bcrypt as etcd stores v2 auth passwords: checked against hashes made by libxcrypt (glibc's
// crypt(3), through Debian's python3), and live against it when it is there.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bcryptCompare, bcryptHash } from '../../src-main/util/bcrypt.js';

/** Made with /usr/bin/python3 -c 'import crypt; print(crypt.crypt(password, salt))' (libxcrypt 4.4). */
const VECTORS: Array<[string, string]> = [
  ['pw', '$2b$04$abcdefghijklmnopqrstuuyvPXIbu7xe6/CED2DzX8z6Si09MlzlW'],
  ['', '$2b$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy'],
  ['U*U', '$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW'],
  ['x'.repeat(80), '$2b$04$0123456789./ABCDEFGHI.qQCJ0U4cvpcpPPHxJqAoP.t8eYw0NlW'],
  ['pässwörd ☃', '$2b$06$zyxwvutsrqponmlkjihgfePtpxJwWUv2sNyEcQh0l2FeTPMQQZOAq'],
  ['testpass', '$2b$10$Nx8d0c2eWSA9pLqI5jzWNeNapvcewwEC3e9jrN1wXCwMmTpL517E6'],
];

describe('bcrypt', () => {
  it.each(VECTORS)('accepts %j against libxcrypt’s hash, and nothing else', async (password, hash) => {
    expect(await bcryptCompare(hash, password)).toBe(true);
    expect(await bcryptCompare(hash, `${password}?`)).toBe(password.length >= 72); // only 72 bytes count
    expect(await bcryptCompare(hash.replace('$2b$', '$2a$'), password)).toBe(true);
  });

  it('a new hash is Go’s format ($2a$, cost 10), salted, and checks', async () => {
    const [a, b] = await Promise.all([bcryptHash('Secret-1'), bcryptHash('Secret-1')]);
    expect(a).toMatch(/^\$2a\$10\$[./A-Za-z0-9]{53}$/);
    expect(a).not.toBe(b);
    expect(await bcryptCompare(a, 'Secret-1')).toBe(true);
    expect(await bcryptCompare(a, 'secret-1')).toBe(false);
    // Basic auth hands over bytes: UTF-8 ones are the password, anything else matches nothing.
    expect(await bcryptCompare(a, Buffer.from('Secret-1'))).toBe(true);
    expect(await bcryptCompare(await bcryptHash('\ufffd', 4), Buffer.from([0xff]))).toBe(false);
    const fixed = await bcryptHash('pw', 4, Buffer.from('71d79f8218a39259a7a29aabb2dbafc3', 'hex'));
    expect(fixed).toBe('$2a$04$abcdefghijklmnopqrstuuyvPXIbu7xe6/CED2DzX8z6Si09MlzlW');
  });

  it('garbage is no hash; out-of-range costs are refused', async () => {
    for (const bad of [
      '',
      'pw',
      '$2a$10$short',
      '$2a$99$abcdefghijklmnopqrstuuyvPXIbu7xe6/CED2DzX8z6Si09MlzlW',
      '$1$abcdefghijklmnopqrstuuyvPXIbu7xe6/CED2DzX8z6Si09MlzlW',
    ]) {
      expect(await bcryptCompare(bad, 'pw')).toBe(false);
    }
    await expect(bcryptHash('pw', 3)).rejects.toThrow('outside allowed range');
  });

  it('the expensive loop lets the event loop run (a node keeps ticking while it hashes)', async () => {
    // bcryptjs works in slices of at most 100 ms and lets the event loop run between them: at
    // cost 12 (4× the default's work, hundreds of ms anywhere) there is always a between.
    let ranDuring = false;
    const hashing = bcryptHash('pw', 12).then((h) => ({ h, ranDuring }));
    setImmediate(() => (ranDuring = true));
    const done = await hashing;
    expect(done.ranDuring).toBe(true);
  });

  const libxcrypt = fs.existsSync('/usr/bin/python3');
  it.runIf(libxcrypt)('libxcrypt accepts our hashes and we accept its fresh ones', async () => {
    const py = (code: string, ...args: string[]) =>
      execFileSync('/usr/bin/python3', ['-W', 'ignore', '-c', code, ...args], { encoding: 'utf8' }).trim();
    const ours = await bcryptHash('Ünïcode pw', 5);
    expect(
      py('import crypt,sys; print(crypt.crypt(sys.argv[1], sys.argv[2]) == sys.argv[2])', 'Ünïcode pw', ours),
    ).toBe('True');
    const theirs = py(
      'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32)))',
      'théirs',
    );
    expect(theirs).toMatch(/^\$2b\$05\$/);
    expect(await bcryptCompare(theirs, 'théirs')).toBe(true);
    expect(await bcryptCompare(theirs, 'theirs')).toBe(false);
  });
});
