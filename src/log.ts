/**
 * One pino logger for the whole process. Credentials never reach a log line: every
 * place a request or response header bag can appear is redacted by path, and the
 * code logs header bags only through these paths.
 */
import { Writable } from 'node:stream';
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export type LogFormat = 'json' | 'pretty';

const CREDENTIAL_HEADERS = ['cookie', 'authorization', 'x-session-token', 'set-cookie', 'proxy-authorization'];

export const REDACT_PATHS = [
  ...CREDENTIAL_HEADERS.flatMap((h) => [`req.headers["${h}"]`, `res.headers["${h}"]`, `headers["${h}"]`]),
  'session_token',
  'password',
  '*.session_token',
  '*.password',
];

/**
 * How long a written line may sit in the output buffer. Lines are batched (one write(2) per
 * ~4 KiB rather than per line, which is what keeps the access log cheap under load), but a
 * quiet gateway must still show its lines promptly: the buffer is flushed on this interval
 * and when the process exits.
 */
export const LOG_FLUSH_INTERVAL_MS = 250;

/**
 * The most one write(2) may carry so that processes sharing a pipe (cluster workers on the
 * primary's stdout) never interleave inside a line: POSIX makes pipe writes up to PIPE_BUF
 * (4096 on Linux) atomic, and sonic-boom cuts its batches only between lines.
 */
const PIPE_BUF = 4096;

export function createLogger(
  level: LevelWithSilent,
  destination?: NodeJS.WritableStream,
  format: LogFormat = 'json',
  /** Several processes write to this stdout (proxy.workers > 1): batches stay within PIPE_BUF. */
  sharedOutput = false,
): Logger {
  const options = {
    level,
    base: { service: 'kratos-gateway' },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (format === 'pretty') return pino(options, prettyStream(destination ?? process.stdout));
  return pino(options, destination ?? bufferedDestination(1, LOG_FLUSH_INTERVAL_MS, sharedOutput ? PIPE_BUF : undefined));
}

/**
 * The production destination: sonic-boom, asynchronous, batched to ~4 KiB per write(2)
 * (what keeps the access log cheap under load), flushed every LOG_FLUSH_INTERVAL_MS so a
 * quiet gateway still shows its lines promptly, and flushed synchronously at exit.
 * `dest` is a file descriptor or path (the benchmark writes to /dev/null through this).
 */
export function bufferedDestination(
  dest: number | string,
  flushIntervalMs = LOG_FLUSH_INTERVAL_MS,
  maxWrite?: number,
): NodeJS.WritableStream {
  const stream = pino.destination(
    maxWrite === undefined ? { dest, sync: false, minLength: 4096 } : { dest, sync: false, minLength: maxWrite - 1, maxWrite },
  );
  // One flush outstanding at most: each flush(cb) waits for 'drain', and behind a slow reader
  // (a full stdout pipe) a flush per tick would pile up listeners until the write completes.
  let flushing = false;
  const timer = setInterval(() => {
    if (flushing) return;
    flushing = true;
    // The callback form never throws (a destroyed stream reports through it; nothing to do then).
    stream.flush(() => {
      flushing = false;
    });
  }, flushIntervalMs);
  timer.unref();
  process.once('exit', () => {
    clearInterval(timer);
    try {
      stream.flushSync();
    } catch {
      // EAGAIN on a full pipe or a write already in flight: nothing more can be done at exit.
    }
  });
  return stream as unknown as NodeJS.WritableStream;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMITTED = new Set(['level', 'time', 'service', 'msg', 'component']);

/**
 * Characters a terminal acts on rather than shows: C0 and C1 controls (ESC, CSI) and DEL, the
 * line separators, and bidi overrides that reorder what follows. Log values carry request data
 * (a recovery address typed by anyone), and JSON.parse has turned their \u escapes back into
 * the raw characters, so pretty lines escape them again.
 */
const TERMINAL_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function printable(text: string): string {
  return text.replace(TERMINAL_CONTROLS, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** `log.format: pretty`: one JSON line in, `HH:MM:SS.mmm LEVEL [component] msg key=value …` out. */
export function formatPrettyLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof o.time === 'string' ? o.time.slice(11, 23) : '';
  const level = LEVEL_NAMES[o.level as number] ?? String(o.level);
  const component = typeof o.component === 'string' ? ` [${o.component}]` : '';
  const fields = Object.entries(o)
    .filter(([k]) => !OMITTED.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  // JSON.stringify escapes C0 controls but not C1 or bidi ones; everything printed goes through printable.
  return printable(`${time} ${level.padEnd(5)}${component} ${String(o.msg ?? '')}${fields.length ? '  ' + fields.join(' ') : ''}`);
}

/** Development only: synchronous, unbatched, a JSON parse per line. */
function prettyStream(out: NodeJS.WritableStream): NodeJS.WritableStream {
  let partial = '';
  return new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      const text = partial + chunk.toString();
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line !== '') out.write(formatPrettyLine(line) + '\n');
      cb();
    },
  });
}

/**
 * At most one warn line per key per interval; the next line carries how many were
 * suppressed since the previous one. For failures that repeat once per request (Kratos
 * unreachable): the first occurrence is always logged, a flood never is.
 */
export class ThrottledWarnings {
  private readonly state = new Map<string, { until: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(key: string, fields: Record<string, unknown>, msg: string): void {
    const t = this.now();
    const s = this.state.get(key);
    if (s !== undefined && t < s.until) {
      s.suppressed++;
      return;
    }
    // Keys are reasons (a few dozen at most), but never let a varying key grow the map unbounded.
    if (s === undefined && this.state.size >= 256) this.state.clear();
    const suppressed = s?.suppressed ?? 0;
    this.logger.warn(suppressed > 0 ? { ...fields, suppressed } : fields, msg);
    this.state.set(key, { until: t + this.intervalMs, suppressed: 0 });
  }
}
