/** The bench's gRPC service definition (grpc/echo.proto), loaded once per process. */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export { grpc };

export interface Msg {
  text?: string;
  delay_ms?: number;
}

export type UnaryCallback = (err: grpc.ServiceError | null, res?: Msg) => void;

export interface EchoClient extends grpc.Client {
  Unary(req: Msg, md: grpc.Metadata, options: grpc.CallOptions, cb: UnaryCallback): grpc.ClientUnaryCall;
}

export const PROTO = fileURLToPath(new URL('./echo.proto', import.meta.url));
const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true });
export const Echo = (grpc.loadPackageDefinition(definition).kgbench as grpc.GrpcObject).Echo as grpc.ServiceClientConstructor;

/** `address` is host:port; `options` are channel options (e.g. a private subchannel pool per client). */
export function echoClient(address: string, options: grpc.ChannelOptions = {}): EchoClient {
  return new Echo(address, grpc.credentials.createInsecure(), options) as unknown as EchoClient;
}
