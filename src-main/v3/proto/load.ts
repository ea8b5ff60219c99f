// etcd 3.4's v3 API definitions (vendored .proto files, see README.md here), loaded once.
// Options as the gRPC server and clients of this code expect them: field names as in the .proto,
// int64 as strings (lease ids are 63-bit), enums by name, oneof names given, repeated fields
// always arrays. Absent fields stay undefined (no defaults): etcd tells an absent range_end from
// an empty one (see mvcc/range-end.ts), so the server must see which it got.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * A message as proto-loader gives and takes it with these options: its fields are typed by the
 * .proto, not by TypeScript (there is no code generation here), so code reads them field by field.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type ProtoMessage = Record<string, any>;

export const RPC_PROTO = 'etcd/etcdserver/etcdserverpb/rpc.proto';

/**
 * Where the .proto files are: next to this module when run from source (tsx, tests), or the
 * source tree's copy when this module is inside the bundle (out/cli/raftlab.mjs).
 */
export const PROTO_DIR = ((): string => {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [here, path.resolve(here, '../../src-main/v3/proto')];
  return candidates.find((d) => fs.existsSync(path.join(d, RPC_PROTO))) ?? here;
})();

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  arrays: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

/**
 * For the JSON gateway: no arrays for absent repeated fields either, so decoded messages have
 * exactly the fields on the wire, in field order, as etcd's gateway writes them.
 */
export const GATEWAY_LOADER_OPTIONS: protoLoader.Options = { ...LOADER_OPTIONS, arrays: false };

let gateway: protoLoader.PackageDefinition | undefined;

/** The package definition with GATEWAY_LOADER_OPTIONS, loaded once. */
export function gatewayProto(): protoLoader.PackageDefinition {
  gateway ??= protoLoader.loadSync(RPC_PROTO, GATEWAY_LOADER_OPTIONS);
  return gateway;
}

let loaded: { definition: protoLoader.PackageDefinition; grpcObject: grpc.GrpcObject } | undefined;

/** The package definition and grpc-js object for etcdserverpb (KV, Watch, Lease, Cluster, Maintenance, Auth). */
export function etcdProto(): { definition: protoLoader.PackageDefinition; grpcObject: grpc.GrpcObject } {
  if (!loaded) {
    const definition = protoLoader.loadSync(RPC_PROTO, LOADER_OPTIONS);
    loaded = { definition, grpcObject: grpc.loadPackageDefinition(definition) };
  }
  return loaded;
}

export type ServiceName = 'KV' | 'Watch' | 'Lease' | 'Cluster' | 'Maintenance' | 'Auth';

/** A service's client class by name, e.g. serviceClient('Lease'), to call another member. */
export function serviceClient(name: ServiceName): grpc.ServiceClientConstructor {
  const pkg = etcdProto().grpcObject.etcdserverpb as grpc.GrpcObject;
  return pkg[name] as grpc.ServiceClientConstructor;
}

/** A service's definition by name, e.g. service('KV'), for grpc.Server.addService. */
export function service(name: ServiceName): grpc.ServiceDefinition {
  return serviceClient(name).service;
}
