// Which certificate a member actually serves: a TLS handshake with its client port, read-only.

import { isIP } from 'node:net';
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caPaths, OPERATOR_CLIENT } from './layout.js';

export async function servedSerial(host: string, port: number, pkiDir: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      ca: readFileSync(caPaths(pkiDir).cert),
      cert: readFileSync(join(pkiDir, `${OPERATOR_CLIENT}.crt`)),
      key: readFileSync(join(pkiDir, `${OPERATOR_CLIENT}.key`)),
      servername: isIP(host) ? undefined : host, // SNI carries names only (RFC 6066)
      checkServerIdentity: () => undefined, // identity is checked by the SAN test elsewhere; here only the serial matters
      timeout: timeoutMs,
    });
    socket.once('secureConnect', () => {
      const serial = socket.getPeerCertificate().serialNumber ?? '';
      socket.end();
      resolve(serial.toLowerCase().replace(/^0+/, ''));
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`no TLS answer from ${host}:${port} within ${timeoutMs} ms`));
    });
    socket.once('error', reject);
  });
}
