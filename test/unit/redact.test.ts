// SPEC rule 4.9: passwords, keys and tokens never appear in output or journals. Each form
// that redact() hides, with what must stay readable beside it.
import { describe, expect, it } from 'vitest';
import { redact, redactDeep } from '../../src/engine/events.js';

const SECRET = 'hunter2';

describe('redact', () => {
  it.each([
    ['key=value', 'login with password=hunter2 failed', 'login with password=[REDACTED] failed'],
    ['key: value', 'token: hunter2', 'token: [REDACTED]'],
    ['JSON, quoted key', '{"password": "hunter2", "user": "bob"}', '{"password": "[REDACTED]", "user": "bob"}'],
    ['JSON, no blank', '{"user":"bob","secret":"hunter2"}', '{"user":"bob","secret":"[REDACTED]"}'],
    ['JSON, escaped quote in the value', '{"passphrase": "a\\"hunter2"}', '{"passphrase": "[REDACTED]"}'],
    ['JSON, a compound key', '{"db_password": "hunter2"}', '{"db_password": "[REDACTED]"}'],
    ['JSON, api_key', '{"api_key":"hunter2"}', '{"api_key":"[REDACTED]"}'],
    ['single-quoted key', "{'token': 'hunter2'}", "{'token': '[REDACTED]'}"],
    ['--password x', 'zkops-helper --password hunter2 --json', 'zkops-helper --password [REDACTED] --json'],
    ['--password=x', 'run --password=hunter2 now', 'run --password=[REDACTED] now'],
    ['--token x', 'curl --token hunter2', 'curl --token [REDACTED]'],
    ['--secret "x y"', 'tool --secret "hunter2 more"', 'tool --secret "[REDACTED]"'],
    ['--passphrase x', 'ssh-add --passphrase hunter2', 'ssh-add --passphrase [REDACTED]'],
    ['--password -x (a value that starts with a dash)', 'x --password -hunter2', 'x --password [REDACTED]'],
    ['URL userinfo', 'GET https://bob:hunter2@10.0.0.1/exhibitor failed', 'GET https://bob:[REDACTED]@10.0.0.1/exhibitor failed'],
    ['bare user:pw@host', 'cannot reach bob:hunter2@master-2:22', 'cannot reach bob:[REDACTED]@master-2:22'],
    ['env *_SECRET_*=', 'AWS_SECRET_ACCESS_KEY=hunter2 aws s3 ls', 'AWS_SECRET_ACCESS_KEY=[REDACTED] aws s3 ls'],
    ['env FOO_TOKEN=', 'export FOO_TOKEN=hunter2', 'export FOO_TOKEN=[REDACTED]'],
    ['env MY_SECRET_THING=', 'MY_SECRET_THING="hunter2" run', 'MY_SECRET_THING="[REDACTED]" run'],
    ['Authorization header', 'Authorization: Basic aHVudGVyMg==', 'Authorization: Basic [REDACTED]'],
    ['Bearer token', 'sent Bearer hunter2.abc', 'sent Bearer [REDACTED]'],
  ])('%s', (_form, input, expected) => {
    expect(redact(input)).toBe(expected);
    expect(redact(expected)).toBe(expected);
  });

  it('a private key block', () => {
    const text = `before\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n-----END OPENSSH PRIVATE KEY-----\nafter`;
    expect(redact(text)).toBe('before\n[REDACTED PRIVATE KEY]\nafter');
  });

  it.each([
    'ssh ops@bastion.example.com:22',
    'master-2 (10.0.0.12:2222): connection refused',
    'backup zk-20260101-0000-1b4e28ba-2fa1-41d2-883f-0016d3cca427 READY, sha256 abc',
    'the private key /home/ops/.ssh/id_ed25519 is encrypted',
    'timed out after 10s on master-2',
  ])('leaves ordinary text alone: %s', (text) => {
    expect(redact(text)).toBe(text);
  });
});

describe('redactDeep', () => {
  it('walks objects and arrays: strings are redacted, secret-named keys hidden', () => {
    const doc = {
      ok: false,
      error: { message: `step x: password=${SECRET}`, hint: null },
      registered: { out: { 'master-1': { stdout: `{"token": "${SECRET}"}`, rc: 0 } }, db_password: SECRET, apiKey: 12345 },
      list: [`https://u:${SECRET}@h/`, 3, true],
      when: new Date(0),
    };
    const out = redactDeep(doc);
    expect(JSON.stringify(out)).not.toContain(SECRET);
    expect(out.registered.db_password).toBe('[REDACTED]');
    expect(out.registered.apiKey).toBe('[REDACTED]');
    expect(out.registered.out['master-1'].rc).toBe(0);
    expect(out.list).toEqual(['https://u:[REDACTED]@h/', 3, true]);
    expect(out.when).toBe('1970-01-01T00:00:00.000Z');
    expect(doc.error.message).toContain(SECRET); // the input is not changed
  });

  it('a value shown twice is shown twice; only a value inside itself is a cycle', () => {
    const rows = [{ master: 'master-1', state: 'down' }];
    const doc: Record<string, unknown> = { error: { details: { rows } }, health: rows };
    doc.self = doc;
    const out = redactDeep(doc) as { error: { details: { rows: unknown } }; health: unknown; self: unknown };
    expect(out.health).toEqual(rows);
    expect(out.error.details.rows).toEqual(rows);
    expect(out.self).toBe('[circular]');
  });
});
