/**
 * The fleet deployment files: the Kubernetes manifests validated against the
 * Kubernetes OpenAPI schemas (kubernetes-models), the Dockerfile linted by
 * dockerfile-utils (the Docker language server's checks), the systemd unit
 * by `systemd-analyze verify`, and the ConfigMap's module compiled by our
 * compiler. No container engine is needed.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validate, ValidationSeverity } from 'dockerfile-utils';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { parseAllDocuments } from 'yaml';
import { compile } from '../../src/dsl/compiler/compile.js';
import { nodeCompileOptions, nodeHost } from '../../src/cli/dsl-host.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (p: string): string => readFileSync(`${root}${p}`, 'utf8');
const docs = (p: string): Array<Record<string, any>> => parseAllDocuments(read(p)).map((d) => {
  expect(d.errors, `${p}: YAML errors`).to.deep.equal([]);
  return d.toJS() as Record<string, any>;
});

describe('deploy: fleet files', () => {
  it('the DaemonSet is valid Kubernetes and runs the engine privileged with bpffs, cgroup, host network and the metrics port', () => {
    const [ds] = docs('deploy/kubernetes/daemonset.yaml');
    expect(() => new DaemonSet(ds as never).validate()).to.not.throw();
    const spec = ds!.spec.template.spec;
    expect(spec.hostNetwork).to.equal(true);
    const c = spec.containers[0];
    expect(c.securityContext.privileged).to.equal(true);
    expect(c.args).to.include('--metrics');
    expect(c.ports.map((p: { containerPort: number }) => p.containerPort)).to.include(9435);
    const mounts = new Map(c.volumeMounts.map((m: { name: string; mountPath: string }) => [m.mountPath, m.name]));
    expect(mounts.get('/sys/fs/bpf')).to.equal('bpffs');
    expect(mounts.get('/sys/fs/cgroup')).to.equal('cgroup');
    expect(mounts.get('/etc/tsbpf/modules')).to.equal('modules');
    const volumes = new Map(spec.volumes.map((v: { name: string }) => [v.name, v]));
    expect((volumes.get('bpffs') as { hostPath: { path: string } }).hostPath.path).to.equal('/sys/fs/bpf');
    expect((volumes.get('modules') as { configMap: { name: string } }).configMap.name).to.equal('tsbpf-modules');
  });

  it('the ConfigMap is valid Kubernetes and its modules compile', () => {
    const [cm] = docs('deploy/kubernetes/configmap.yaml');
    expect(() => new ConfigMap(cm as never).validate()).to.not.throw();
    expect(cm!.metadata.name).to.equal('tsbpf-modules');
    for (const [file, text] of Object.entries(cm!.data as Record<string, string>)) {
      const entry = `/configmap/${file}`;
      const mod = compile({ ...nodeCompileOptions(entry), host: { ...nodeHost, readFile: (p) => (p === entry ? text : nodeHost.readFile(p)) } });
      expect(mod.programs.length, file).to.be.greaterThan(0);
    }
  });

  it('the Dockerfile has no lint errors and copies files that exist', () => {
    const text = read('deploy/Dockerfile');
    const problems = validate(text).filter((d) => d.severity === ValidationSeverity.ERROR);
    expect(problems.map((d) => `${d.range.start.line + 1}: ${d.message}`)).to.deep.equal([]);
    for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1]!.split(/\s+/)) expect(existsSync(`${root}${src}`), `COPY ${src}`).to.equal(true);
    }
    expect(text).to.match(/ENTRYPOINT \["tsbpf", "engine"\]/);
  });

  it('the systemd unit passes systemd-analyze verify and keeps modules running when the engine stops', function () {
    const r = spawnSync('systemd-analyze', ['verify', `${root}deploy/systemd/tsbpf-engine.service`], { encoding: 'utf8' });
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') this.skip(); // no systemd on this machine: the oracle is absent
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr.trim()).to.equal('');
    const unit = read('deploy/systemd/tsbpf-engine.service');
    expect(unit).to.match(/^ExecStart=.*tsbpf engine/m);
    expect(unit).to.match(/^KillMode=process$/m);
  });
});
