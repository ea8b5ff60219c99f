// etcd 3.4's v3 errors: gRPC status code and message exactly as etcd's
// etcdserver/api/v3rpc/rpctypes/error.go has them, so clients (etcdctl, clientv3) map them back.

/** gRPC status codes used by etcd's v3 errors (google.golang.org/grpc/codes). */
export const GrpcCode = {
  OK: 0,
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  NotFound: 5,
  FailedPrecondition: 9,
  ResourceExhausted: 8,
  OutOfRange: 11,
  Unimplemented: 12,
  Unavailable: 14,
} as const;

export class V3Error extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'V3Error';
  }
}

const e = (code: number, message: string) => new V3Error(code, message);

export const Errors = {
  emptyKey: e(GrpcCode.InvalidArgument, 'etcdserver: key is not provided'),
  keyNotFound: e(GrpcCode.InvalidArgument, 'etcdserver: key not found'),
  valueProvided: e(GrpcCode.InvalidArgument, 'etcdserver: value is provided'),
  leaseProvided: e(GrpcCode.InvalidArgument, 'etcdserver: lease is provided'),
  tooManyOps: e(GrpcCode.InvalidArgument, 'etcdserver: too many operations in txn request'),
  duplicateKey: e(GrpcCode.InvalidArgument, 'etcdserver: duplicate key given in txn request'),
  compacted: e(GrpcCode.OutOfRange, 'etcdserver: mvcc: required revision has been compacted'),
  futureRev: e(GrpcCode.OutOfRange, 'etcdserver: mvcc: required revision is a future revision'),
  noSpace: e(GrpcCode.ResourceExhausted, 'etcdserver: mvcc: database space exceeded'),
  leaseNotFound: e(GrpcCode.NotFound, 'etcdserver: requested lease not found'),
  leaseExist: e(GrpcCode.FailedPrecondition, 'etcdserver: lease already exists'),
  leaseTTLTooLarge: e(GrpcCode.OutOfRange, 'etcdserver: too large lease TTL'),
  watchCanceled: e(GrpcCode.Canceled, 'etcdserver: watch canceled'),
  noLeader: e(GrpcCode.Unavailable, 'etcdserver: no leader'),
  notLeader: e(GrpcCode.FailedPrecondition, 'etcdserver: not leader'),
  leaderChanged: e(GrpcCode.Unavailable, 'etcdserver: leader changed'),
  stopped: e(GrpcCode.Unavailable, 'etcdserver: server stopped'),
  timeout: e(GrpcCode.Unavailable, 'etcdserver: request timed out'),
  requestTooLarge: e(GrpcCode.InvalidArgument, 'etcdserver: request is too large'),
  memberExist: e(GrpcCode.FailedPrecondition, 'etcdserver: member ID already exist'),
  peerURLExist: e(GrpcCode.FailedPrecondition, 'etcdserver: Peer URLs already exists'),
  memberNotEnoughStarted: e(
    GrpcCode.FailedPrecondition,
    'etcdserver: re-configuration failed due to not enough started members',
  ),
  memberBadURLs: e(GrpcCode.InvalidArgument, 'etcdserver: given member URLs are invalid'),
  memberNotFound: e(GrpcCode.NotFound, 'etcdserver: member not found'),
  memberNotLearner: e(GrpcCode.FailedPrecondition, 'etcdserver: can only promote a learner member'),
  learnerNotReady: e(
    GrpcCode.FailedPrecondition,
    'etcdserver: can only promote a learner member which is in sync with leader',
  ),
  tooManyLearners: e(GrpcCode.FailedPrecondition, 'etcdserver: too many learner members in cluster'),
  notSupportedForLearner: e(GrpcCode.Unavailable, 'etcdserver: rpc not supported for learner'),
  badLeaderTransferee: e(GrpcCode.FailedPrecondition, 'etcdserver: bad leader transferee'),
  /** etcd has no gRPC error for it: it reaches the client as Unknown with this text. */
  leaderTransferTimeout: e(GrpcCode.Unknown, 'etcdserver: request timed out, leader transfer took too long'),
  unhealthy: e(GrpcCode.Unavailable, 'etcdserver: unhealthy cluster'),
} as const;

/** mvcc's watch errors (mvcc/watcher.go): they are a watch's cancel_reason, not a status. */
export const WatchErrors = {
  emptyRange: 'mvcc: watcher range is empty',
  duplicateId: 'mvcc: duplicate watch ID provided on the WatchStream',
  notExist: 'mvcc: watcher does not exist',
} as const;
