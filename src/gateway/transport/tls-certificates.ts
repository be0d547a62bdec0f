/**
 * The proxy listener's certificate (proxy.tls): read at start, where a pair that cannot be
 * served is a configuration error naming its key, and read again when the files change or on
 * SIGHUP, where such a pair is logged by key path and the running one kept (never key material).
 */
import { resolve } from 'node:path';
import { ConfigError } from '../../config/errors.js';
import type { GatewayConfig } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import { CertificateReloader } from '../../http/certificate-reloader.js';
import type { TlsFront } from '../../http/tls-dispatch.js';
import { readTlsPair, TlsPairError, type TlsFiles, type TlsPair } from '../../http/tls-pair.js';

export type ProxyTlsConfig = GatewayConfig['proxy']['tls'];

/** The two files, relative to the configuration file's directory; undefined without TLS. */
export function proxyTlsFiles(tls: ProxyTlsConfig, baseDir: string): TlsFiles | undefined {
  if (tls.cert_file === undefined || tls.key_file === undefined) return undefined;
  return { certFile: resolve(baseDir, tls.cert_file), keyFile: resolve(baseDir, tls.key_file) };
}

/** `proxy.tls.key_file: /path: why` */
function problemOf(err: TlsPairError): string {
  return `proxy.tls.${err.file}: ${err.message}`;
}

/** Reads and checks the pair; a ConfigError naming proxy.tls.cert_file or proxy.tls.key_file. */
export function loadProxyTlsPair(files: TlsFiles): TlsPair {
  try {
    return readTlsPair(files);
  } catch (err) {
    if (err instanceof TlsPairError) throw new ConfigError([problemOf(err)]);
    throw err;
  }
}

/** What a log line says about a certificate: who it is for, until when, which one (never the key). */
function described(pair: TlsPair): Record<string, string> {
  return { subject: pair.subject, valid_to: pair.validTo, fingerprint256: pair.fingerprint256 };
}

/** Reloads `front`'s certificate on a change of the files (watched) and on reload() (SIGHUP), logging each outcome. */
export function reloadProxyCertificates(front: TlsFront, files: TlsFiles, current: TlsPair, logger: Logger): CertificateReloader {
  const reloader = new CertificateReloader({
    files,
    current,
    apply: (pair) => front.setCertificate(pair),
    onApplied: (pair, trigger) => logger.info({ trigger, ...described(pair) }, 'proxy TLS certificate reloaded'),
    onRejected: (err, trigger) => {
      const problem = problemOf(err);
      logger.error({ trigger, error: problem }, `proxy TLS certificate not reloaded, the running one is kept: ${problem}`);
    },
    onUnchanged: (trigger) => {
      if (trigger !== 'file change') logger.info({ trigger }, 'proxy TLS certificate unchanged');
    },
    onWatchError: (err) =>
      logger.warn({ err: { message: err.message } }, 'proxy TLS certificate watch failed; SIGHUP still reloads the certificate'),
  });
  reloader.watch();
  return reloader;
}
