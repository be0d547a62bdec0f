/**
 * A small Dockerfile reader for test assertions: joins `\` continuations, drops comment
 * lines (also inside a continuation, as BuildKit does), splits each instruction into its
 * keyword, `--flags` and arguments, and decodes the JSON (exec) form. Syntax checking is
 * dockerfile-utils' job; this only gives the tests structured instructions to look at.
 */
export interface Instruction {
  keyword: string;
  line: number;
  /** The raw text after the keyword, continuations joined with a space. */
  raw: string;
  flags: Record<string, string>;
  /** Exec-form arguments when the arguments are a JSON array, else undefined. */
  json: string[] | undefined;
  /** Shell-form words (after the flags), split on whitespace. */
  words: string[];
}

export interface Stage {
  name: string | undefined;
  image: string;
  index: number;
  instructions: Instruction[];
}

export function parseDockerfile(content: string): Instruction[] {
  const lines = content.split(/\r?\n/);
  const out: Instruction[] = [];
  let buf = '';
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const trimmed = line.trim();
    if (buf === '' && (trimmed === '' || trimmed.startsWith('#'))) continue;
    if (buf !== '' && trimmed.startsWith('#')) continue;
    if (buf === '') start = i + 1;
    if (/\\\s*$/.test(line)) {
      buf += line.replace(/\\\s*$/, '') + ' ';
      continue;
    }
    buf += line;
    out.push(toInstruction(buf.trim(), start));
    buf = '';
  }
  if (buf.trim() !== '') out.push(toInstruction(buf.trim(), start));
  return out;
}

function toInstruction(text: string, line: number): Instruction {
  const m = /^(\S+)\s*(.*)$/s.exec(text);
  if (!m) throw new Error(`unparsable instruction at line ${line}`);
  const keyword = (m[1] ?? '').toUpperCase();
  let rest = (m[2] ?? '').trim();
  const flags: Record<string, string> = {};
  // HEALTHCHECK and the COPY/ADD/FROM/RUN families put --flags before the arguments.
  for (;;) {
    const f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest);
    if (!f) break;
    flags[f[1] ?? ''] = f[2] ?? 'true';
    rest = rest.slice(f[0].length);
  }
  let json: string[] | undefined;
  let argText = rest;
  if (keyword === 'HEALTHCHECK' && /^CMD\s+/i.test(rest)) argText = rest.replace(/^CMD\s+/i, '');
  if (argText.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(argText);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) json = parsed as string[];
    } catch {
      json = undefined;
    }
  }
  return { keyword, line, raw: rest, flags, json, words: rest.split(/\s+/).filter(Boolean) };
}

export function stages(instructions: Instruction[]): Stage[] {
  const out: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const [image = '', as, name] = ins.words;
      out.push({
        name: as?.toUpperCase() === 'AS' ? name : undefined,
        image,
        index: out.length,
        instructions: [],
      });
      continue;
    }
    const current = out[out.length - 1];
    if (current) current.instructions.push(ins);
  }
  return out;
}

/** `ENV a=b c=d` and the legacy `ENV a b` form, as a map. */
export function envOf(instructions: Instruction[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const ins of instructions) {
    if (ins.keyword !== 'ENV') continue;
    if (!ins.raw.includes('=')) {
      const [k = '', ...v] = ins.words;
      env.set(k, v.join(' '));
      continue;
    }
    for (const pair of ins.raw.match(/[A-Za-z_][A-Za-z0-9_]*=("[^"]*"|\S*)/g) ?? []) {
      const eq = pair.indexOf('=');
      env.set(pair.slice(0, eq), pair.slice(eq + 1).replace(/^"(.*)"$/, '$1'));
    }
  }
  return env;
}
