/**
 * Unknown-field check for Kubernetes objects. kubernetes-models' runtime validate()
 * checks types and required fields but accepts misspelt keys (`imagePulPolicy`), which
 * the API server would silently drop. Its TypeScript interfaces, generated from the same
 * OpenAPI schema, do not: an object literal with an unknown key is a compile error. So
 * each object is written into a virtual TypeScript module as a literal typed with its
 * interface, and the compiler's diagnostics are the result.
 */
import ts from 'typescript';
import { join } from 'node:path';
import { repoRoot } from './values-schema.js';

export interface TypedValue {
  /** e.g. "kubernetes-models/apps/v1/Deployment" */
  module: string;
  /** e.g. "IDeployment"; suffix with [] for arrays */
  type: string;
  value: unknown;
  label: string;
}

export function typeCheck(values: TypedValue[]): string[] {
  const file = join(repoRoot, 'test/unit/deploy/__k8s_typecheck__.ts');
  const imports = new Map<string, Set<string>>();
  for (const v of values) {
    const name = v.type.replace(/\[\]$/, '');
    if (!imports.has(v.module)) imports.set(v.module, new Set());
    imports.get(v.module)!.add(name);
  }
  const lines: string[] = [];
  for (const [mod, names] of imports) lines.push(`import type { ${[...names].join(', ')} } from '${mod}';`);
  const labelOfLine = new Map<number, string>();
  values.forEach((v, i) => {
    labelOfLine.set(lines.length, v.label);
    lines.push(`export const v${i}: ${v.type} = ${JSON.stringify(v.value)};`);
  });
  const source = lines.join('\n') + '\n';

  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError, create) =>
    name === file ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, onError, create);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === file ? source : readFile(name));

  const program = ts.createProgram([file], options, host);
  const sf = program.getSourceFile(file)!;
  return ts.getPreEmitDiagnostics(program, sf).map((d) => {
    const line = d.start === undefined ? -1 : sf.getLineAndCharacterOfPosition(d.start).line;
    return `${labelOfLine.get(line) ?? `line ${line + 1}`}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}
