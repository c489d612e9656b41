// Throw-away certificates for TLS tests, made with the openssl command line: a CA, a server
// certificate for localhost / 127.0.0.1, and client certificates signed by the CA.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** Signs a new certificate with the test CA; returns [cert, key] paths. */
  issue(name: string, subject: string, san?: string): [string, string];
}

function openssl(dir: string, args: readonly string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'culex-tls-'));
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, ['req', '-x509', ...ecKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Culex Test CA']);
  const issue = (name: string, subject: string, san?: string): [string, string] => {
    openssl(dir, ['req', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
    const ext = join(dir, `${name}.ext`);
    writeFileSync(ext, san === undefined ? 'basicConstraints=CA:FALSE\n' : `basicConstraints=CA:FALSE\nsubjectAltName=${san}\n`);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', ext]);
    return [join(dir, `${name}.crt`), join(dir, `${name}.key`)];
  };
  const [serverCert, serverKey] = issue('server', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1');
  const [clientCert, clientKey] = issue('client', '/C=GB/O=Culex/CN=test client');
  return { dir, caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), serverCert, serverKey, clientCert, clientKey, issue };
}
