/**
 * Login names on a real Dovecot 2.3 (shipped Lua snippet, auth cache ON,
 * one-hour TTL): names doveadm could read as an option or a wildcard, and
 * every spelling of one mailbox a client may type.
 *
 * Nodes run as root here: 2.3's local `doveadm kick` cannot signal sessions
 * unprivileged (rotation-dovecot.test.ts covers the grants); what is tested
 * is what doveadm makes of the name.
 */
import { afterAll, beforeAll, it } from 'vitest';
import { adminToken } from '../helpers/daemon.js';
import { startDovecot, startE2eBackend, type DovecotInstance, type E2eBackend } from '../helpers/dovecot.js';
import { account, dashNameRotates, everySpellingFlushed, legacyMailbox, plusNameLogsIn, spellings, wildcardNameKicksNobodyElse } from '../helpers/names-scenario.js';
import { RotationScenario } from '../helpers/rotation-scenario.js';
import { requireParts } from '../helpers/parts.js';

// What needs these parts is skipped, with one line saying what is missing (test/helpers/parts.ts).
const describe = requireParts(['root', 'dovecot23']);

const API_KEY = 'names-e2e-doveadm-api-key-0123456789';
const SPELL = account('spell', 1);
const PLUS = account('first.last+tag', 2);
const DASH = account('-dash', 3);
const VICTIM = account('abcd', 4);
const PATTERN = account('ab?d', 5);
const VICTIM_HTTP = account('wxyz', 6);
const PATTERN_HTTP = account('w*', 7);

let backend: E2eBackend;
let dc: DovecotInstance;
let sc: RotationScenario;
const localEnv = () => ({ MAILPASSD_DOVEADM: 'local', MAILPASSD_DOVEADM_CONFIG: dc.configPath });
const httpEnv = () => ({ MAILPASSD_DOVEADM: `http://127.0.0.1:${dc.doveadmHttpPort}/doveadm/v1`, MAILPASSD_DOVEADM_API_KEY: API_KEY });

beforeAll(async () => {
  backend = await startE2eBackend({ MAILPASSD_DOVEADM: 'none' });
  await backend.mailbox(SPELL.address, SPELL.old);
  await Promise.all([PLUS, VICTIM, VICTIM_HTTP].map((a) => backend.mailbox(a.address, a.old)));
  await legacyMailbox(backend, DASH.address, VICTIM.address);
  DASH.old = VICTIM.old;
  await legacyMailbox(backend, PATTERN.address, VICTIM.address);
  await legacyMailbox(backend, PATTERN_HTTP.address, VICTIM_HTTP.address);
  dc = await startDovecot({ authUrl: backend.daemon.authUrl, cache: { size: '10M', ttl: '1 hour' }, doveadmApiKey: API_KEY });
  sc = new RotationScenario(backend, dc, await adminToken(backend.daemon));
}, 5 * 60_000);

afterAll(async () => {
  if (process.env.MAILPASSD_E2E_VERBOSE) console.log(dc?.log());
  await sc?.stopAll();
  await dc?.stop();
  await backend?.stop();
});

describe('Dovecot 2.3: every spelling of a mailbox is flushed by a rotation', () => {
  it('each spelling accepted logs in from the cache before, none with the old password after; a trailing dot or a Unicode domain is never accepted', async () => {
    await everySpellingFlushed(sc, 'names23-spell', localEnv(), SPELL, spellings('spell'));
  });

  it('a + local part logs in through the shipped snippet', async () => {
    await plusNameLogsIn(sc, PLUS);
  });
});

describe('Dovecot 2.3: names doveadm could read as an option or a wildcard', () => {
  it('a stored name starting with - is flushed and kicked (doveadm gets --)', async () => {
    await dashNameRotates(sc, 'names23-dash', localEnv(), DASH);
  });

  it('local doveadm: rotating a stored name with ? kicks nobody else and is reported not applied', async () => {
    await wildcardNameKicksNobodyElse(sc, 'names23-wild-local', localEnv(), PATTERN, VICTIM);
  });

  it('doveadm HTTP API: rotating a stored name with * kicks nobody else and is reported not applied', async () => {
    await wildcardNameKicksNobodyElse(sc, 'names23-wild-http', httpEnv(), PATTERN_HTTP, VICTIM_HTTP);
  });
});
