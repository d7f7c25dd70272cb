import { existsSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { CliError } from '../client/errors.js';
import { readFileOrFail } from '../client/files.js';
import { collect, intFlag, type LocalCommand } from './common.js';

/** ECDSA P-256 with SHA-256, as Consul's `tls` commands make by default. */
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** @peculiar/x509 (WebCrypto X.509), with the reflect polyfill it needs loaded first. */
async function x509lib(): Promise<typeof import('@peculiar/x509')> {
  await import('reflect-metadata');
  return import('@peculiar/x509');
}

const randomSerial = () =>
  Buffer.from(crypto.getRandomValues(new Uint8Array(16)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');

function writeNew(path: string, text: string, mode: number): void {
  if (existsSync(path)) throw new CliError(`${path} already exists: not overwritten`);
  try {
    writeFileSync(path, text, { mode });
  } catch (err) {
    throw new CliError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

const readPem = (path: string, what: string): string => readFileOrFail(path, what, 2).toString('utf8');

/** Registers `tls ca create` and `tls cert create -server|-client|-cli`. */
export function registerTlsCommands(program: Command, local: LocalCommand): void {
  const tls = program
    .command('tls')
    .description('create a CA and certificates for the HTTP API and the raft transport');
  const ca = tls.command('ca').description('the certificate authority');

  local(
    ca
      .command('create')
      .description('create a CA: <domain>-agent-ca.pem and <domain>-agent-ca-key.pem in the current directory')
      .option('--domain <domain>', 'the domain (file names and constraints)', 'konsul')
      .option('--days <n>', 'days the CA is valid', '1825')
      .option('--common-name <name>', "the CA's common name (default: Konsul Agent CA <serial>)"),
    async (io, o: { domain: string; days: string; commonName?: string }) => {
      const days = intFlag(o.days, 'days');
      const x509 = await x509lib();
      const keys = await crypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
      const serial = randomSerial();
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: serial,
        name: `CN=${(o.commonName ?? `Konsul Agent CA ${BigInt(`0x${serial}`)}`).replace(/[,=+<>#;"\\]/g, ' ')}`,
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + days * 86_400_000),
        signingAlgorithm: ALG,
        keys,
        extensions: [
          new x509.BasicConstraintsExtension(true, undefined, true),
          new x509.KeyUsagesExtension(
            x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
            true,
          ),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ],
      });
      const certFile = `${o.domain}-agent-ca.pem`;
      const keyFile = `${o.domain}-agent-ca-key.pem`;
      const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
      writeNew(certFile, `${cert.toString('pem')}\n`, 0o644);
      writeNew(keyFile, `${x509.PemConverter.encode(pkcs8, 'PRIVATE KEY')}\n`, 0o600);
      io.out(`==> Saved ${certFile}\n==> Saved ${keyFile}\n`);
      return 0;
    },
  );

  local(
    tls
      .command('cert')
      .description('certificates')
      .command('create')
      .description('create a certificate signed by the CA: <dc>-<server|client|cli>-<domain>-<n>.pem and its -key.pem')
      .option('--server', 'a server certificate (server.<dc>.<domain>, localhost, 127.0.0.1; server and client auth)')
      .option('--client', 'a client certificate (client.<dc>.<domain>, localhost, 127.0.0.1; server and client auth)')
      .option('--cli', 'a certificate for command-line clients (cli.<dc>.<domain>, localhost; client auth)')
      .option('--dc <dc>', 'the datacenter', 'dc1')
      .option('--domain <domain>', 'the domain', 'konsul')
      .option('--ca <path>', 'the CA certificate (default: <domain>-agent-ca.pem)')
      .option('--key <path>', "the CA's key (default: <domain>-agent-ca-key.pem)")
      .option('--days <n>', 'days the certificate is valid', '365')
      .option('--node <name>', 'also name the node: <node>.server.<dc>.<domain>')
      .option('--additional-dnsname <name>', 'another DNS name (repeatable)', collect)
      .option('--additional-ipaddress <ip>', 'another IP address (repeatable)', collect),
    async (
      io,
      o: {
        server?: boolean;
        client?: boolean;
        cli?: boolean;
        dc: string;
        domain: string;
        ca?: string;
        key?: string;
        days: string;
        node?: string;
        additionalDnsname?: string[];
        additionalIpaddress?: string[];
      },
    ) => {
      const kinds = [o.server && 'server', o.client && 'client', o.cli && 'cli'].filter(Boolean) as string[];
      if (kinds.length !== 1) throw new CliError('Please provide exactly one of -server, -client or -cli', 2);
      const kind = kinds[0] as 'server' | 'client' | 'cli';
      for (const ip of o.additionalIpaddress ?? [])
        if (isIP(ip) === 0) throw new CliError(`-additional-ipaddress ${JSON.stringify(ip)} is not an IP address`, 2);
      const days = intFlag(o.days, 'days');
      const x509 = await x509lib();
      const caCert = new x509.X509Certificate(readPem(o.ca ?? `${o.domain}-agent-ca.pem`, 'CA certificate'));
      const caKeyPem = readPem(o.key ?? `${o.domain}-agent-ca-key.pem`, 'CA key');
      let caKey: CryptoKey;
      try {
        caKey = await crypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(caKeyPem), ALG, false, ['sign']);
      } catch (err) {
        throw new CliError(`the CA key is not a PKCS#8 ECDSA P-256 key: ${(err as Error).message}`, 2);
      }
      const name = `${kind}.${o.dc}.${o.domain}`;
      const dns = [
        name,
        'localhost',
        ...(o.node && kind === 'server' ? [`${o.node}.${name}`] : []),
        ...(o.additionalDnsname ?? []),
      ];
      const ips = kind === 'cli' ? [...(o.additionalIpaddress ?? [])] : ['127.0.0.1', ...(o.additionalIpaddress ?? [])];
      const keys = await crypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: randomSerial(),
        subject: `CN=${name}`,
        issuer: caCert.subject,
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + days * 86_400_000),
        signingAlgorithm: ALG,
        publicKey: keys.publicKey,
        signingKey: caKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension(
            kind === 'cli'
              ? [x509.ExtendedKeyUsage.clientAuth]
              : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
          ),
          new x509.SubjectAlternativeNameExtension([
            ...dns.map((value) => ({ type: 'dns' as const, value })),
            ...ips.map((value) => ({ type: 'ip' as const, value })),
          ]),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
          await x509.AuthorityKeyIdentifierExtension.create(caCert),
        ],
      });
      // The first free <dc>-<kind>-<domain>-<n>.pem, as Consul numbers them.
      let n = 0;
      while (existsSync(`${o.dc}-${kind}-${o.domain}-${n}.pem`)) n++;
      const certFile = `${o.dc}-${kind}-${o.domain}-${n}.pem`;
      const keyFile = `${o.dc}-${kind}-${o.domain}-${n}-key.pem`;
      const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
      writeNew(certFile, `${cert.toString('pem')}\n`, 0o644);
      writeNew(keyFile, `${x509.PemConverter.encode(pkcs8, 'PRIVATE KEY')}\n`, 0o600);
      const caFiles = `${o.ca ?? `${o.domain}-agent-ca.pem`} and ${o.key ?? `${o.domain}-agent-ca-key.pem`}`;
      io.out(`==> Using ${caFiles}\n==> Saved ${certFile}\n==> Saved ${keyFile}\n`);
      return 0;
    },
  );
}
