/**
 * Reads a listener's certificate and key again when either file changes and when asked
 * (SIGHUP), and hands a pair that checks out (tls-pair.ts) to the listener: new connections
 * get it, open ones keep theirs. A pair that does not check out is reported once per change of
 * the files and the running pair stays.
 *
 * The files' directories are watched, not the files: an editor or `mv` replaces a file by
 * rename, and a Kubernetes Secret volume never touches the names at all. There each name is a
 * symlink through `..data`, and an update renames a new `..data` symlink into place, so a change
 * of `..data` counts too. An event without a name (some platforms) always does.
 *
 * A watch holds the directory it found, not its path: once a directory on the way to a file is
 * replaced (removed and made again, or a `current -> v2` symlink swapped in), the watch would
 * see nothing more. So every directory on each path is watched for the name of the next step,
 * and the watches are set up again from the paths before each reload.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { checkTlsPair, digestOf, readTlsFiles, TlsPairError, type TlsFiles, type TlsPair } from './tls-pair.js';

/** The symlink a Kubernetes Secret/ConfigMap volume swaps atomically on an update (the kubelet's atomic writer). */
const KUBERNETES_DATA_LINK = '..data';

export type CertificateReloadResult = 'applied' | 'unchanged' | 'rejected';

export interface CertificateReloaderOptions {
  readonly files: TlsFiles;
  /** The pair the listener serves now (read at start). */
  readonly current: TlsPair;
  /** Gives the listener a new pair. */
  readonly apply: (pair: TlsPair) => void;
  readonly onApplied: (pair: TlsPair, trigger: string) => void;
  /** A pair refused: the running one stays. Once per change of the files on a file change; on every explicit reload. */
  readonly onRejected: (error: TlsPairError, trigger: string) => void;
  readonly onUnchanged?: (trigger: string) => void;
  readonly onWatchError?: (error: Error) => void;
  /** Events this close together are one change (a writer replacing both files). */
  readonly debounceMs?: number;
}

export class CertificateReloader {
  private appliedDigest: string;
  private rejectedDigest: string | undefined;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private debounceMs = 200;

  constructor(private readonly options: CertificateReloaderOptions) {
    this.appliedDigest = options.current.digest;
  }

  /**
   * Reads both files and applies them when they differ from the running pair and check out.
   * `quietIfSeen`: a refusal of files already refused is not reported again (a watcher fires
   * several times for one change).
   */
  reload(trigger: string, quietIfSeen = false): CertificateReloadResult {
    const o = this.options;
    // What the files hold now: their bytes, or why they cannot be read (that is a state of them too).
    let digest: string | undefined;
    try {
      const bytes = readTlsFiles(o.files);
      digest = digestOf(bytes);
      if (digest === this.appliedDigest) {
        o.onUnchanged?.(trigger);
        return 'unchanged';
      }
      const pair = checkTlsPair(o.files, bytes);
      o.apply(pair);
      this.appliedDigest = digest;
      this.rejectedDigest = undefined;
      o.onApplied(pair, trigger);
      return 'applied';
    } catch (err) {
      if (!(err instanceof TlsPairError)) throw err;
      digest ??= `${err.file}: ${err.message}`;
      const seen = digest === this.rejectedDigest;
      this.rejectedDigest = digest;
      if (!(quietIfSeen && seen)) o.onRejected(err, trigger);
      return 'rejected';
    }
  }

  watch(debounceMs = this.options.debounceMs ?? 200): void {
    this.debounceMs = debounceMs;
    this.arm(true);
  }

  /** For each directory, the names in it whose change can change what the two paths read. */
  private watchedNames(): Map<string, Set<string>> {
    const names = new Map<string, Set<string>>();
    const add = (dir: string, name: string) => names.set(dir, (names.get(dir) ?? new Set()).add(name));
    for (const file of [this.options.files.certFile, this.options.files.keyFile]) {
      add(dirname(file), KUBERNETES_DATA_LINK);
      for (let path = file; dirname(path) !== path; path = dirname(path)) add(dirname(path), basename(path));
    }
    return names;
  }

  /** (Re)places the watches on the directories the paths name now. */
  private arm(starting: boolean): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    for (const [dir, relevant] of this.watchedNames()) {
      let watcher: FSWatcher;
      try {
        watcher = watch(dir, (_event, changed) => {
          if (changed === null || relevant.has(changed)) this.changed();
        });
      } catch (err) {
        // Told once, at start. Later, mid-replacement, a directory may be missing for a moment:
        // the watch on its parent sees it come back.
        if (starting) this.options.onWatchError?.(err as Error);
        continue;
      }
      watcher.unref();
      watcher.on('error', (err) => this.options.onWatchError?.(err));
      this.watchers.push(watcher);
    }
  }

  private changed(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      try {
        this.arm(false);
        this.reload('file change', true);
      } catch (err) {
        // From a timer: anything but a refused pair would end the process.
        this.options.onWatchError?.(err as Error);
      }
    }, this.debounceMs);
    this.timer.unref();
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
  }
}
