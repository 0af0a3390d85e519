import { describe, expect, it } from 'vitest';
import { parseStrictForm } from '../../src/http/form.js';

const parse = (body: string | Buffer) => parseStrictForm(Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'));

/** What the parser throws: fastify turns statusCode/code into the 400 answer. */
function refusal(body: string | Buffer): { statusCode: number; code: string; message: string } {
  try {
    parse(body);
  } catch (err) {
    return err as { statusCode: number; code: string; message: string };
  }
  throw new Error('parsed without complaint');
}

describe('self-service strict form parser', () => {
  it('reads the fields a webmail form sends, + as space and %-escapes as UTF-8', () => {
    expect(parse('user=alice%40example.org&curpass=old+pass&newpass=caf%C3%A9%2B%26%3D!')).toEqual({
      user: 'alice@example.org',
      curpass: 'old pass',
      newpass: 'café+&=!',
    });
  });

  it('takes raw UTF-8 bytes as they are, and keeps a = inside a value', () => {
    expect(parse('newpass=Grüße-日本-🔑&x=a=b')).toEqual({ newpass: 'Grüße-日本-🔑', x: 'a=b' });
  });

  it('skips empty pairs; a name without = has the empty value', () => {
    expect(parse('&&user=bob&&flag&')).toEqual({ user: 'bob', flag: '' });
    expect(parse('')).toEqual({});
  });

  it('a repeated field becomes an array, for the schema to refuse', () => {
    expect(parse('newpass=a&newpass=b&newpass=c')).toEqual({ newpass: ['a', 'b', 'c'] });
  });

  it('refuses bytes that are not UTF-8 instead of turning them into U+FFFD', () => {
    const latin1 = Buffer.concat([Buffer.from('newpass=caf'), Buffer.from([0xe9])]);
    expect(refusal(latin1)).toMatchObject({ statusCode: 400, code: 'invalid_utf8' });
  });

  it('refuses an escape that is not UTF-8 (%E9 from a Latin-1 page) or not an escape at all, instead of keeping it as text', () => {
    expect(refusal('newpass=caf%E9')).toMatchObject({ statusCode: 400, code: 'invalid_form' });
    expect(refusal('newpass=100%zz')).toMatchObject({ statusCode: 400, code: 'invalid_form' });
    expect(refusal('new%ZZpass=x')).toMatchObject({ statusCode: 400, code: 'invalid_form' });
  });

  it('never echoes the body in its refusal', () => {
    expect(refusal('newpass=Secret-Value%E9').message).not.toContain('Secret-Value');
  });

  it('a field named __proto__ is an ordinary field: no prototype is touched', () => {
    const fields = parse('__proto__=polluted&constructor=x');
    expect(Object.getPrototypeOf(fields)).toBeNull();
    expect(fields.__proto__).toBe('polluted');
    expect(fields.constructor).toBe('x');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
