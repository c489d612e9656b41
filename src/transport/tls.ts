// MQTT over TLS (mqtts): a node:tls server whose sockets become the same SocketConnection as TCP.
// Certificates are read from files (Mosquitto's certfile/keyfile/cafile/capath) and read again by
// reloadCertificates() on SIGHUP, through setSecureContext, without dropping connections.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type SecureContextOptions, type TLSSocket, type TlsOptions } from 'node:tls';
import type { Broker } from '../broker/broker.js';
import { SocketConnection } from './connection.js';
import { bind, type Listener, type TcpListenerOptions } from './tcp.js';

export interface TlsSettings {
  certfile: string;
  keyfile: string;
  /** CA(s) for client certificates. */
  cafile?: string | undefined;
  /** A directory of CA certificates; every regular file in it is loaded. */
  capath?: string | undefined;
  /** Refuse the TLS handshake unless the client presents a certificate the CA vouches for. */
  requireCertificate?: boolean;
  /** Take the username from the client certificate: its CN, or its whole subject (RFC 2253 order). */
  identityAsUsername?: 'cn' | 'subject' | undefined;
  /** Lowest TLS version accepted. */
  minVersion?: 'TLSv1.3' | 'TLSv1.2' | 'TLSv1.1' | undefined;
  /** OpenSSL cipher list (TLS 1.2 and below). */
  ciphers?: string | undefined;
}

export interface SecureListener extends Listener {
  /** Reads certfile, keyfile and the CAs again; new handshakes use them, open connections stay. */
  reloadCertificates(): void;
}

/** The secure-context part of the TLS options, read from the files now (throws if one is unreadable). */
export function secureContextOptions(settings: TlsSettings): SecureContextOptions {
  const options: SecureContextOptions = {
    cert: readTlsFile(settings.certfile, 'server certificate'),
    key: readTlsFile(settings.keyfile, 'server key'),
  };
  const cas: Buffer[] = [];
  if (settings.cafile !== undefined) cas.push(readTlsFile(settings.cafile, 'CA file'));
  if (settings.capath !== undefined) {
    for (const name of readdirSync(settings.capath).sort()) {
      const path = join(settings.capath, name);
      if (statSync(path).isFile()) cas.push(readFileSync(path));
    }
  }
  if (cas.length > 0) options.ca = cas;
  if (settings.minVersion !== undefined) options.minVersion = settings.minVersion;
  if (settings.ciphers !== undefined) options.ciphers = settings.ciphers;
  return options;
}

/** The full server options: the secure context plus client-certificate policy. */
export function tlsServerOptions(settings: TlsSettings): TlsOptions {
  const wantsCertificate = settings.requireCertificate === true || settings.identityAsUsername !== undefined;
  return {
    ...secureContextOptions(settings),
    requestCert: wantsCertificate,
    rejectUnauthorized: settings.requireCertificate === true,
  };
}

/**
 * The username a client certificate gives, when the listener takes it from there: undefined when it
 * does not, null when the client has no verified certificate.
 */
export function certificateIdentity(socket: TLSSocket, settings: TlsSettings): string | null | undefined {
  if (settings.identityAsUsername === undefined) return undefined;
  if (!socket.authorized) return null; // an unverified certificate must not name anyone
  const certificate = socket.getPeerX509Certificate();
  if (certificate === undefined) return null;
  const parts = certificate.subject.split('\n').filter(Boolean);
  if (settings.identityAsUsername === 'subject') return parts.reverse().join(','); // RFC 2253: most specific first
  const cn = parts.find((part) => part.startsWith('CN='));
  return cn === undefined ? null : cn.slice(3);
}

export async function listenTls(broker: Broker, options: TcpListenerOptions, settings: TlsSettings): Promise<SecureListener> {
  const name = options.name ?? `mqtts:${options.port}`;
  const server = createServer(tlsServerOptions(settings), (socket: TLSSocket) => {
    socket.setNoDelay(true);
    new SocketConnection(socket, broker, name, { certificateIdentity: certificateIdentity(socket, settings) });
  });
  server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
    if (broker.options.logger.enabled('notice')) {
      broker.options.logger.log('notice', `OpenSSL Error on connection from ${socket.remoteAddress ?? 'unknown'}: ${error.message}`);
    }
  });
  if (options.maxConnections !== undefined && options.maxConnections >= 0) server.maxConnections = options.maxConnections;
  const listener = await bind(server, options.port, options.host, name);
  return { ...listener, reloadCertificates: () => server.setSecureContext(secureContextOptions(settings)) };
}

function readTlsFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`Unable to load ${what} "${path}": ${error instanceof Error ? error.message : String(error)}.`);
  }
}
