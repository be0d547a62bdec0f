/**
 * One pino logger for the whole process. Credentials never reach a log line: every
 * place a request or response header bag can appear is redacted by path, and the
 * code logs header bags only through these paths.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

const CREDENTIAL_HEADERS = ['cookie', 'authorization', 'x-session-token', 'set-cookie', 'proxy-authorization'];

export const REDACT_PATHS = [
  ...CREDENTIAL_HEADERS.flatMap((h) => [
    `req.headers["${h}"]`,
    `res.headers["${h}"]`,
    `headers["${h}"]`,
  ]),
  'session_token',
  'password',
  '*.session_token',
  '*.password',
];

export function createLogger(level: LevelWithSilent, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    base: { service: 'kratos-gateway' },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (destination) return pino(options, destination);
  return pino(options, pino.destination({ sync: false, minLength: 4096 }));
}
