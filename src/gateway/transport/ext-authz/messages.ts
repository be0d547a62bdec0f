/**
 * Envoy's ext_authz v3 messages on the wire, encoded and decoded with protobufjs from the
 * descriptor generated from ./proto (a subset of envoyproxy/data-plane-api with its field names
 * and numbers). Fields the subset does not declare are skipped when decoding.
 */
import protobuf from 'protobufjs/light.js';
import { EXT_AUTHZ_DESCRIPTOR } from './descriptor.js';

// protobufjs's INamespace type does not declare a map field's keyType, which its JSON has.
const root = protobuf.Root.fromJSON(EXT_AUTHZ_DESCRIPTOR as protobuf.INamespace);
root.resolveAll();
const service = root.lookupService('envoy.service.auth.v3.Authorization');
const CheckRequestType = root.lookupType('envoy.service.auth.v3.CheckRequest');
const CheckResponseType = root.lookupType('envoy.service.auth.v3.CheckResponse');

/** The gRPC path of `Check` (`/envoy.service.auth.v3.Authorization/Check`), from the definitions. */
export const CHECK_PATH = `/${service.fullName.slice(1)}/${service.methods['Check']!.name}`;

export interface HeaderValue {
  readonly key: string;
  readonly value?: string;
  readonly raw_value?: Uint8Array;
}

/** The original request, as Envoy describes it. */
export interface HttpRequest {
  readonly id: string;
  readonly method: string;
  /** Lower-case names, a name sent more than once merged (Envoy's default). */
  readonly headers: Readonly<Record<string, string>>;
  /** Every header as sent (Envoy's encode_raw_headers), else null. */
  readonly header_map: { readonly headers: readonly HeaderValue[] } | null;
  readonly path: string;
  readonly host: string;
  readonly scheme: string;
  readonly protocol: string;
}

/**
 * What the gateway reads of a CheckRequest, as decoded: absent strings, maps and lists are
 * empty, absent messages null.
 */
export interface CheckRequest {
  readonly attributes: {
    readonly request: { readonly http: HttpRequest | null } | null;
    readonly context_extensions: Readonly<Record<string, string>>;
  } | null;
}

/** HeaderValueOption.HeaderAppendAction */
export const APPEND_IF_EXISTS_OR_ADD = 0;
export const OVERWRITE_IF_EXISTS_OR_ADD = 2;

export interface HeaderValueOption {
  header: { key: string; value: string };
  append_action: number;
  keep_empty_value?: boolean;
}

export interface CheckResponse {
  status: { code: number; message?: string };
  denied_response?: { status: { code: number }; headers: HeaderValueOption[]; body: string };
  ok_response?: { headers: HeaderValueOption[]; headers_to_remove: string[]; response_headers_to_add: HeaderValueOption[] };
}

/** Throws (protobufjs's error) when the bytes are not a CheckRequest. */
export function decodeCheckRequest(bytes: Uint8Array): CheckRequest {
  return CheckRequestType.decode(bytes) as unknown as CheckRequest;
}

export function encodeCheckResponse(response: CheckResponse): Uint8Array {
  return CheckResponseType.encode(response).finish();
}
