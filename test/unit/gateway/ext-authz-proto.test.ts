/**
 * The gateway's own ext_authz .proto files against Envoy's: every field they declare has the
 * reference name, number, type and cardinality; the descriptor the gateway runs on is the one
 * the files give; and a CheckRequest encoded by the reference definitions (a binary fixture,
 * test/fixtures/ext-authz/README.md) decodes with them, fields they do not declare skipped.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { EXT_AUTHZ_DESCRIPTOR } from '../../../src/gateway/transport/ext-authz/descriptor.js';
import {
  CHECK_PATH,
  decodeCheckRequest,
  encodeCheckResponse,
  OVERWRITE_IF_EXISTS_OR_ADD,
} from '../../../src/gateway/transport/ext-authz/messages.js';
import { FIXTURE_HEADERS } from '../../fixtures/ext-authz/values.js';
import { descriptorSource, DESCRIPTOR_FILE, FIXTURES, loadOwnProtos, loadReference } from '../../helpers/ext-authz-protos.js';

const fixture = (name: string) => readFileSync(join(FIXTURES, name));

/** Every message and enum of a root, by full name. */
function allTypes(ns: protobuf.NamespaceBase, out = new Map<string, protobuf.Type | protobuf.Enum>()) {
  for (const child of ns.nestedArray) {
    if (child instanceof protobuf.Type || child instanceof protobuf.Enum) out.set(child.fullName, child);
    if (child instanceof protobuf.Namespace || child instanceof protobuf.Type) allTypes(child, out);
  }
  return out;
}

describe('ext_authz .proto files', () => {
  const own = loadOwnProtos();
  const reference = loadReference();

  it('declare only reference fields: same name, number, type, repeated or map', () => {
    const refTypes = allTypes(reference);
    let fields = 0;
    for (const [name, t] of allTypes(own)) {
      const ref = refTypes.get(name);
      assert.ok(ref, `${name} is a reference type`);
      if (t instanceof protobuf.Enum) {
        assert.ok(ref instanceof protobuf.Enum);
        for (const [value, n] of Object.entries(t.values)) assert.equal(ref.values[value], n, `${name}.${value}`);
        continue;
      }
      assert.ok(ref instanceof protobuf.Type);
      for (const f of t.fieldsArray) {
        const r: protobuf.Field | undefined = ref.fields[f.name];
        assert.ok(r, `${name}.${f.name} is a reference field`);
        fields++;
        assert.equal(f.id, r.id, `${name}.${f.name} number`);
        assert.equal(f.resolvedType?.fullName ?? f.type, r.resolvedType?.fullName ?? r.type, `${name}.${f.name} type`);
        assert.equal(f.repeated, r.repeated, `${name}.${f.name} repeated`);
        assert.equal(f instanceof protobuf.MapField, r instanceof protobuf.MapField, `${name}.${f.name} map`);
        if (f instanceof protobuf.MapField && r instanceof protobuf.MapField) assert.equal(f.keyType, r.keyType, `${name}.${f.name} key`);
        assert.equal(f.partOf?.name, r.partOf?.name, `${name}.${f.name} oneof`);
      }
    }
    assert.ok(fields >= 25, `${fields} fields compared`);
    const check = own.lookupService('envoy.service.auth.v3.Authorization').methods['Check']!;
    const refCheck = reference.lookupService('envoy.service.auth.v3.Authorization').methods['Check']!;
    assert.equal(check.resolvedRequestType!.fullName, refCheck.resolvedRequestType!.fullName);
    assert.equal(check.resolvedResponseType!.fullName, refCheck.resolvedResponseType!.fullName);
    assert.equal(CHECK_PATH, '/envoy.service.auth.v3.Authorization/Check');
  });

  it('the descriptor the gateway loads is the one the files give (else regenerate it)', () => {
    assert.deepEqual(
      EXT_AUTHZ_DESCRIPTOR,
      JSON.parse(JSON.stringify(own.toJSON())),
      `regenerate ${DESCRIPTOR_FILE}: bash scripts/node.sh --import tsx test/helpers/ext-authz-protos.ts`,
    );
    assert.equal(readFileSync(DESCRIPTOR_FILE, 'utf8'), descriptorSource());
  });

  it('every HTTP status the gateway refuses with is a named reference StatusCode', () => {
    const codes = reference.lookupEnum('envoy.type.v3.StatusCode').valuesById;
    // The decision API's refusals (pipeline/refuse.ts, transport/decision.ts) and its 500.
    for (const status of [400, 401, 403, 429, 500, 503]) assert.ok(codes[status] !== undefined, `${status}`);
  });
});

describe('a CheckRequest encoded by the reference definitions', () => {
  const reference = loadReference();
  const CheckRequest = reference.lookupType('envoy.service.auth.v3.CheckRequest');

  it('holds fields the gateway does not declare (so skipping them is tested)', () => {
    const full = CheckRequest.toObject(CheckRequest.decode(fixture('check-request.bin'))) as {
      attributes: Record<string, unknown> & { request: { time: unknown; http: Record<string, unknown> } };
    };
    for (const field of ['source', 'destination', 'metadata_context', 'route_metadata_context', 'tls_session'])
      assert.ok(full.attributes[field] !== undefined, field);
    assert.ok(full.attributes.request.time !== undefined);
    assert.equal(full.attributes.request.http['body'], '{"quantity": 3}\n');
  });

  it('decodes with the gateway files: every field the gateway reads', () => {
    const r = decodeCheckRequest(fixture('check-request.bin'));
    const http = r.attributes!.request!.http!;
    assert.equal(http.id, '5f1c3e2a-8b4d-4a7e-9c1f-2d3e4f5a6b7c');
    assert.equal(http.method, 'POST');
    assert.equal(http.path, '/api/orders/42?expand=items');
    assert.equal(http.host, 'app.example.com');
    assert.equal(http.scheme, 'https');
    assert.equal(http.protocol, 'HTTP/2');
    assert.deepEqual({ ...http.headers }, FIXTURE_HEADERS);
    assert.equal(http.header_map, null);
    assert.deepEqual({ ...r.attributes!.context_extensions }, { route: 'api', tenant: 'acme' });
  });

  it('decodes the encode_raw_headers form: header_map with raw values, a repeated name kept apart', () => {
    const http = decodeCheckRequest(fixture('check-request-raw-headers.bin')).attributes!.request!.http!;
    assert.deepEqual({ ...http.headers }, {});
    const pairs = http.header_map!.headers.map((h) => [h.key, Buffer.from(h.raw_value!).toString('utf8')]);
    assert.equal(pairs.length, 15);
    assert.deepEqual(pairs, [...Object.entries(FIXTURE_HEADERS), ['accept', 'text/html']]);
    assert.equal(http.method, 'POST');
  });
});

describe('a CheckResponse encoded by the gateway files', () => {
  const CheckResponse = loadReference().lookupType('envoy.service.auth.v3.CheckResponse');
  const decode = (bytes: Uint8Array) =>
    CheckResponse.toObject(CheckResponse.decode(bytes), { enums: Number, defaults: false }) as Record<string, unknown>;

  it('an allow decodes with the reference definitions as sent', () => {
    const ok = {
      headers: [
        {
          header: { key: 'x-kratos-authenticated-identity-id', value: 'id-1' },
          append_action: OVERWRITE_IF_EXISTS_OR_ADD,
          keep_empty_value: true,
        },
      ],
      headers_to_remove: ['x_user_email', 'X-Kratos-Session-Id'],
      response_headers_to_add: [{ header: { key: 'set-cookie', value: 'a=b; Path=/' }, append_action: 0 as const }],
    };
    assert.deepEqual(decode(encodeCheckResponse({ status: { code: 0 }, ok_response: ok })), {
      status: {},
      ok_response: {
        headers: [{ header: { key: 'x-kratos-authenticated-identity-id', value: 'id-1' }, append_action: 2, keep_empty_value: true }],
        headers_to_remove: ['x_user_email', 'X-Kratos-Session-Id'],
        response_headers_to_add: [{ header: { key: 'set-cookie', value: 'a=b; Path=/' } }],
      },
    });
  });

  it('a refusal decodes with the reference definitions as sent', () => {
    const denied = {
      status: { code: 401 },
      headers: [{ header: { key: 'location', value: 'https://x/login' }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }],
      body: '{"error":{}}',
    };
    assert.deepEqual(decode(encodeCheckResponse({ status: { code: 16, message: 'no' }, denied_response: denied })), {
      status: { code: 16, message: 'no' },
      denied_response: {
        status: { code: 401 },
        headers: [{ header: { key: 'location', value: 'https://x/login' }, append_action: 2 }],
        body: '{"error":{}}',
      },
    });
  });
});
