/**
 * The ext_authz definitions the tests read: the gateway's own .proto files (parsed here, as
 * the descriptor the gateway runs on was generated from them), and the reference definitions
 * (test/fixtures/ext-authz/reference.json, written by make-fixtures.ts from Envoy's
 * data-plane-api), which the tests' Envoy side speaks.
 *
 * Run as a script, it regenerates the gateway's descriptor from the .proto files:
 *
 *   bash scripts/node.sh --import tsx test/helpers/ext-authz-protos.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import protobuf from 'protobufjs';
import { fromJSON, type PackageDefinition } from '@grpc/proto-loader';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const PROTO_DIR = join(repoRoot, 'src/gateway/transport/ext-authz/proto');
export const DESCRIPTOR_FILE = join(repoRoot, 'src/gateway/transport/ext-authz/descriptor.ts');
export const FIXTURES = join(repoRoot, 'test/fixtures/ext-authz');
export const OWN_FILES = [
  'envoy/service/auth/v3/external_auth.proto',
  'envoy/service/auth/v3/attribute_context.proto',
  'envoy/config/core/v3/base.proto',
  'envoy/type/v3/http_status.proto',
  'google/rpc/status.proto',
];

/** The gateway's .proto files, parsed (field names as written). */
export function loadOwnProtos(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
  root.loadSync(['envoy/service/auth/v3/external_auth.proto'], { keepCase: true });
  root.resolveAll();
  return root;
}

export function referenceJson(): protobuf.INamespace {
  return JSON.parse(readFileSync(join(FIXTURES, 'reference.json'), 'utf8')) as protobuf.INamespace;
}

export function loadReference(): protobuf.Root {
  const root = protobuf.Root.fromJSON(referenceJson());
  root.resolveAll();
  return root;
}

/** The reference definitions for @grpc/grpc-js: the tests' Envoy side. */
export function referencePackage(): PackageDefinition {
  return fromJSON(referenceJson(), { keepCase: true, longs: String, enums: Number, defaults: false, oneofs: true });
}

/** The text of descriptor.ts for the current .proto files. */
export function descriptorSource(): string {
  const json = JSON.stringify(loadOwnProtos().toJSON());
  const text = [
    '/**',
    ' * Generated from the .proto files in ./proto by test/helpers/ext-authz-protos.ts (run it as a',
    ' * script after changing them); a unit test fails when this file and the .proto files disagree.',
    ' * The gateway loads this descriptor, so the image needs no .proto file and no parser.',
    ' */',
    '',
    `export const EXT_AUTHZ_DESCRIPTOR = ${json};`,
    '',
  ].join('\n');
  return execFileSync(join(repoRoot, 'node_modules/.bin/prettier'), ['--stdin-filepath', DESCRIPTOR_FILE], {
    input: text,
    encoding: 'utf8',
  });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(DESCRIPTOR_FILE, descriptorSource());
  console.log(`wrote ${DESCRIPTOR_FILE}`);
}
