/**
 * A path glob as a matcher whose cost is linear in the path: `*` is any run of characters
 * other than `/`, `/**` is nothing or `/` followed by anything (so any number of whole
 * segments), everything else is literal.
 *
 * Not a RegExp: the path is the client's (up to the header size limit), and a backtracking
 * regex for `/**` (`(?:/[^/]*)*`) tries every way of sharing the path's segments among the
 * glob's wildcards before it fails — polynomial in the path with the number of wildcards as
 * the exponent, hours for `/**` four times against 16 KB. This simulates the automaton
 * instead: every position of the glob the path could have reached, one character at a time
 * (O(path × glob)), after the literal text before the first and after the last wildcard has
 * been compared directly, which settles most paths.
 */

const LIT = 0;
const STAR = 1;
/** `/**`: skip (nothing), or a `/` into ANY. */
const OPEN = 2;
/** The rest of a `/**`: any character, any number of times. */
const ANY = 3;

const SLASH = 47;

export interface GlobMatcher {
  readonly test: (path: string) => boolean;
  /** Characters matched literally (the specificity rank). */
  readonly literalLength: number;
}

/**
 * Compiles a glob whose literal runs `literal` maps to the form they are compared in (the
 * match form, maybe case-folded: config/route-match.ts). That form must be printable ASCII.
 */
export function compileGlob(glob: string, literal: (text: string) => string): GlobMatcher {
  const kinds: number[] = [];
  const codes: number[] = [];
  let literalLength = 0;
  let run = '';
  const flush = () => {
    const form = literal(run);
    for (let i = 0; i < form.length; i++) {
      kinds.push(LIT);
      codes.push(form.charCodeAt(i));
    }
    literalLength += form.length;
    run = '';
  };
  for (let i = 0; i < glob.length; i++) {
    if (glob.startsWith('/**', i)) {
      flush();
      kinds.push(OPEN, ANY);
      codes.push(0, 0);
      i += 2;
    } else if (glob[i] === '*') {
      flush();
      // `**` not after a `/` is two stars: one matches the same.
      if (kinds[kinds.length - 1] !== STAR) {
        kinds.push(STAR);
        codes.push(0);
      }
    } else {
      run += glob[i];
    }
  }
  flush();

  let first = kinds.indexOf(STAR);
  const open = kinds.indexOf(OPEN);
  if (first === -1 || (open !== -1 && open < first)) first = open;
  const text = (from: number, to: number) => codes.slice(from, to).reduce((t, c) => t + String.fromCharCode(c), '');
  if (first === -1) {
    const exact = text(0, codes.length);
    return { test: (p) => p === exact, literalLength };
  }
  let last = kinds.length - 1;
  while (kinds[last] === LIT) last--;
  const head = text(0, first);
  const tail = text(last + 1, codes.length);
  const middle = simulation(Uint8Array.from(kinds.slice(first, last + 1)), Uint16Array.from(codes.slice(first, last + 1)));
  const fixed = head.length + tail.length;
  return {
    test: (p) => p.length >= fixed && p.startsWith(head) && p.endsWith(tail) && middle(p, head.length, p.length - tail.length),
    literalLength,
  };
}

/** Whether p[from, to) is matched by the tokens: the set of reachable token positions, char by char. */
function simulation(kinds: Uint8Array, codes: Uint16Array): (p: string, from: number, to: number) => boolean {
  const m = kinds.length;
  // One middle that is a single `*` or `/**` (most globs) needs no automaton.
  if (m === 1) {
    return (p, from, to) => {
      const slash = p.indexOf('/', from);
      return slash === -1 || slash >= to;
    };
  }
  if (m === 2 && kinds[0] === OPEN) return (p, from, to) => from === to || p.charCodeAt(from) === SLASH;
  // The reachable positions as a list (usually a few: one per wildcard passed), each marked
  // with the step that added it, so a step costs what is reachable, not the glob's length.
  let cur = new Int32Array(m + 1);
  let next = new Int32Array(m + 1);
  const mark = new Float64Array(m + 1);
  let step = 0;
  let size = 0;
  // Adds position i and every position reachable from it without reading a character.
  const reach = (list: Int32Array, i: number) => {
    while (i <= m && mark[i] !== step) {
      mark[i] = step;
      list[size++] = i;
      const k = kinds[i];
      if (k === STAR || k === ANY) i += 1;
      else if (k === OPEN) i += 2;
      else break;
    }
  };
  return (p, from, to) => {
    step++;
    size = 0;
    reach(cur, 0);
    let count = size;
    for (let at = from; at < to; at++) {
      const c = p.charCodeAt(at);
      step++;
      size = 0;
      for (let j = 0; j < count; j++) {
        const i = cur[j]!;
        if (i === m) continue;
        const k = kinds[i];
        if (k === LIT ? codes[i] === c : k === STAR ? c !== SLASH : k === OPEN ? c === SLASH : true) {
          reach(next, k === LIT || k === OPEN ? i + 1 : i);
        }
      }
      if (size === 0) return false;
      count = size;
      const t = cur;
      cur = next;
      next = t;
    }
    return mark[m] === step;
  };
}
