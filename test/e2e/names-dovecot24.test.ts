/**
 * Login names on a real Dovecot 2.4 (Debian 13 chroot, shipped 2.4 Lua
 * snippet, auth cache ON, one-hour TTL): names doveadm could read as an
 * option or a wildcard, and every spelling of one mailbox a client may type.
 *
 * Nodes use the chroot's local doveadm (the 2.4 path that flushes; its HTTP
 * flush crashes, see rotation-dovecot24.test.ts) through a wrapper, as root:
 * what is tested is what doveadm makes of the name, not the socket grants.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, it } from 'vitest';
import { adminToken } from '../helpers/daemon.js';
import { makeTempDir, startE2eBackend, type DovecotInstance, type E2eBackend } from '../helpers/dovecot.js';
import { chrootDoveadmWrapper, startDovecot24, TRIXIE_DIR } from '../helpers/dovecot24.js';
import { account, dashNameRotates, everySpellingFlushed, legacyMailbox, plusNameLogsIn, spellings, wildcardNameKicksNobodyElse } from '../helpers/names-scenario.js';
import { RotationScenario } from '../helpers/rotation-scenario.js';
import { requireParts } from '../helpers/parts.js';

// What needs these parts is skipped, with one line saying what is missing (test/helpers/parts.ts).
const describe = requireParts(['root', 'trixie']);

const SPELL = account('spell', 1);
const PLUS = account('first.last+tag', 2);
const DASH = account('-dash', 3);
const VICTIM = account('abcd', 4);
const PATTERN = account('ab?d', 5);

let backend: E2eBackend;
let dc: DovecotInstance;
let sc: RotationScenario;
let wrapperDir: string;
let localEnv: Record<string, string>;

beforeAll(async () => {
  backend = await startE2eBackend({ MAILPASSD_DOVEADM: 'none' });
  await backend.mailbox(SPELL.address, SPELL.old);
  await Promise.all([PLUS, VICTIM].map((a) => backend.mailbox(a.address, a.old)));
  await legacyMailbox(backend, DASH.address, VICTIM.address);
  DASH.old = VICTIM.old;
  await legacyMailbox(backend, PATTERN.address, VICTIM.address);
  dc = await startDovecot24({ authUrl: backend.daemon.authUrl, cache: { size: '10M', ttl: '1 hour' }, mailRoot: backend.mailRoot });
  sc = new RotationScenario(backend, dc, await adminToken(backend.daemon));
  wrapperDir = makeTempDir('doveadm24-names');
  const wrapper = chrootDoveadmWrapper(wrapperDir);
  localEnv = { MAILPASSD_DOVEADM: 'local', MAILPASSD_DOVEADM_BINARY: wrapper, MAILPASSD_DOVEADM_CONFIG: dc.configPath.slice(TRIXIE_DIR.length) };
}, 15 * 60_000);

afterAll(async () => {
  if (process.env.MAILPASSD_E2E_VERBOSE) console.log(dc?.log());
  await sc?.stopAll();
  await dc?.stop();
  await backend?.stop();
  if (wrapperDir) rmSync(wrapperDir, { recursive: true, force: true });
});

describe('Dovecot 2.4: every spelling of a mailbox is flushed by a rotation', () => {
  it('each spelling accepted logs in from the cache before, none with the old password after; a trailing dot or a Unicode domain is never accepted', async () => {
    await everySpellingFlushed(sc, 'names24-spell', localEnv, SPELL, spellings('spell'));
  });

  it('a + local part logs in through the shipped snippet', async () => {
    await plusNameLogsIn(sc, PLUS);
  });
});

describe('Dovecot 2.4: names doveadm could read as an option or a wildcard', () => {
  it('a stored name starting with - is flushed and kicked (doveadm gets --)', async () => {
    await dashNameRotates(sc, 'names24-dash', localEnv, DASH);
  });

  it('local doveadm: rotating a stored name with ? kicks nobody else and is reported not applied', async () => {
    await wildcardNameKicksNobodyElse(sc, 'names24-wild-local', localEnv, PATTERN, VICTIM);
  });
});
