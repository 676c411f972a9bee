// The backup service's settings: the inventory's `dcos.api:` section (validated with file:line
// like the rest), the master it addresses, and the dcos CLI's own config read for a token.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseInventory } from '../../src/inventory/load.js';
import { dcosCliClusters, dcosDir, pickDcosCliCluster } from '../../src/exhibitor/dcos-cli-config.js';
import { serviceTarget } from '../../src/procedures/service-backup.js';
import { problemsOf as problemsOfParse } from './problems-of.js';

const FILE = '/etc/zkops/prod/masters.yaml';
const masters = 'masters:\n  - host: 10.0.0.11\n    name: m1\n  - host: 10.0.0.12\n    name: m2\n    apiUrl: https://m2.example:8443\n';
const inv = (dcos: string) => parseInventory(FILE, `cluster: c1\ndcos:\n${dcos}${masters}`);
const problemsOf = (dcos: string) => {
  const text = `cluster: c1\ndcos:\n${dcos}${masters}`;
  return problemsOfParse(() => parseInventory(FILE, text), text).map((p) => `${p.line}:${p.path} ${p.message}`);
};

describe('dcos.api in the inventory', () => {
  it('every key, with paths relative to the inventory and durations', () => {
    const i = inv('  api:\n    url: https://{host}:8443\n    via: direct\n    caFile: ca.crt\n    master: m2\n    pollInterval: 1s\n    timeout: 2m\n    auth:\n      tokenEnv: MY_TOKEN\n      dcosCli: prod\n      uid: ops\n      serviceAccountKey: ~/sa.pem\n');
    expect(i.dcos.api).toMatchObject({ url: 'https://{host}:8443', via: 'direct', caFile: '/etc/zkops/prod/ca.crt', master: 'm2', pollIntervalMs: 1000, timeoutMs: 120_000 });
    expect(i.dcos.api.auth).toMatchObject({ tokenEnv: 'MY_TOKEN', dcosCli: 'prod', uid: 'ops' });
    expect(i.dcos.api.auth.serviceAccountKey).toMatch(/\/sa\.pem$/);
  });

  it('the addressed master: --master, else dcos.api.master, else the first; its apiUrl over the template', () => {
    const i = inv('  api:\n    url: https://{host}:8443\n');
    expect(serviceTarget(i).origin.href).toBe('https://10.0.0.11:8443/');
    expect(serviceTarget(i, 'm2').origin.href).toBe('https://m2.example:8443/');
    expect(serviceTarget(inv('  api:\n    master: m2\n')).master.name).toBe('m2');
    expect(() => serviceTarget(i, 'm9')).toThrow(/no master "m9".*\n?/);
  });

  it('problems name the line and the key', () => {
    expect(problemsOf('  api:\n    urll: https://x\n')).toEqual([expect.stringMatching(/^4:dcos\.api.*urll/)]);
    expect(problemsOf('  api:\n    url: ftp://x\n')).toEqual([expect.stringMatching(/^4:dcos\.api\.url url must start with https:\/\//)]);
    expect(problemsOf('  api:\n    url: https://{host}:99999\n')).toEqual([expect.stringMatching(/^4:dcos\.api\.url url is not a URL/)]);
    expect(problemsOf('  api:\n    url: https://{host}/system/v1/backup\n')).toEqual([expect.stringMatching(/^4:dcos\.api\.url url is Admin Router's base only.*https:\/\/\{host\}$/)]);
    expect(problemsOf('  api:\n    master: m7\n')).toEqual([expect.stringMatching(/^4:dcos\.api\.master no master "m7"/)]);
    expect(problemsOf('  api:\n    auth:\n      passwordEnv: PW\n')).toEqual([expect.stringMatching(/^5:dcos\.api\.auth\.passwordEnv passwordEnv needs uid/)]);
    expect(problemsOf('  api:\n    auth:\n      uid: u\n      passwordEnv: PW\n      serviceAccountKey: k.pem\n')).toEqual([expect.stringMatching(/^6:dcos\.api\.auth\.passwordEnv give passwordEnv or serviceAccountKey/)]);
    expect(problemsOf('  api:\n    auth:\n      tokenEnv: "not a name"\n')).toEqual([expect.stringMatching(/^5:dcos\.api\.auth\.tokenEnv tokenEnv is the name of an environment variable/)]);
    expect(problemsOf('  api:\n    timeout: 0s\n')).toEqual([expect.stringMatching(/^4:dcos\.api\.timeout/)]);
  });
});

describe("the dcos CLI's config", () => {
  const dir = mkdtempSync(join(tmpdir(), 'zkops-dcoscli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cluster = (id: string, toml: string, attached = false) => {
    mkdirSync(join(dir, 'clusters', id), { recursive: true });
    writeFileSync(join(dir, 'clusters', id, 'dcos.toml'), toml);
    if (attached) writeFileSync(join(dir, 'clusters', id, 'attached'), '');
  };
  cluster('0f3a-prod', '[core]\ndcos_url = "https://10.0.0.11"\ndcos_acs_token = "tok-prod"\n\n[cluster]\nname = "prod"\n');
  cluster('77aa-stage', '[core]\ndcos_url = "https://stage.example"\ndcos_acs_token = "tok-\\"stage\\""\n[cluster]\nname = "stage"\n', true);
  cluster('99bb-nologin', '[core]\ndcos_url = "https://10.0.0.99"\n[cluster]\nname = "nologin"\n');
  cluster('bad', 'this is = = not toml');

  it('reads every cluster with a dcos.toml, TOML escapes included; an unreadable one is skipped', () => {
    const all = dcosCliClusters(dir);
    expect(all.map((c) => [c.id, c.name, c.token, c.attached])).toEqual([
      ['0f3a-prod', 'prod', 'tok-prod', false],
      ['77aa-stage', 'stage', 'tok-"stage"', true],
      ['99bb-nologin', 'nologin', undefined, false],
    ]);
  });

  it('picks by name or id, else the one whose dcos_url is a master; never another cluster (the attached one by itself) nor one without a token', () => {
    const all = dcosCliClusters(dir);
    expect(pickDcosCliCluster(all, [], 'prod')?.token).toBe('tok-prod');
    expect(pickDcosCliCluster(all, [], '77aa-stage')?.name).toBe('stage');
    expect(pickDcosCliCluster(all, ['10.0.0.11'], undefined)?.name).toBe('prod');
    // stage is attached, but its dcos_url is none of these masters: its token is not sent to them
    expect(pickDcosCliCluster(all, ['10.9.9.9'], undefined)).toBeUndefined();
    expect(pickDcosCliCluster(all, ['10.0.0.99'], undefined)).toBeUndefined();
    expect(pickDcosCliCluster(all, [], 'nologin')).toBeUndefined();
  });

  it('$DCOS_DIR wins over ~/.dcos; the legacy single file is read when there are no clusters', () => {
    expect(dcosDir({ DCOS_DIR: '/x/y', HOME: '/h' })).toBe('/x/y');
    expect(dcosDir({ HOME: '/h' })).toBe('/h/.dcos');
    const legacy = mkdtempSync(join(tmpdir(), 'zkops-dcoscli-legacy-'));
    try {
      writeFileSync(join(legacy, 'dcos.toml'), '[core]\ndcos_url = "https://old.example"\ndcos_acs_token = "tok-old"\n');
      expect(pickDcosCliCluster(dcosCliClusters(legacy), ['old.example'], undefined)?.token).toBe('tok-old');
      expect(pickDcosCliCluster(dcosCliClusters(legacy), [], 'legacy')?.token).toBe('tok-old');
    } finally {
      rmSync(legacy, { recursive: true, force: true });
    }
  });
});
