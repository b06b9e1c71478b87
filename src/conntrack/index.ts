/** nf_conntrack-like connection tracking and NAT bindings over the typed-array maps. */
export {
  type ClashResolution,
  CT_DROP_REASON_NAMES,
  CT_STAT_NAMES,
  CT_TRACK_DROP,
  CT_TRACK_INVALID,
  CtDir,
  CtDropReason,
  CtStat,
  CtState,
  CtStatus,
  clashResolutionOf,
  NAT_ERR_BAD_CONN,
  NAT_ERR_BAD_RANGE,
  NAT_ERR_CONFIRMED,
  NAT_RANGE_PROTO_RANDOM,
  NAT_RANGE_PROTO_RANDOM_ALL,
  NAT_RANGE_PROTO_RANDOM_FULLY,
} from './constants.js';
export { CONNTRACK_TOOLS_VERSION, formatConntrackEntry, formatConntrackList } from './format.js';
export { selectSnatPort } from './nat.js';
export {
  defaultSctpTimeouts,
  SCTP_CT_STATE_COUNT,
  SCTP_CT_STATE_NAMES,
  SctpConntrack,
  SctpCtState,
  sctpNextState,
} from './sctp-state.js';
export {
  asConnId,
  asConnRef,
  type ConnId,
  type ConnRef,
  ConntrackConfigError,
  type ConntrackOptions,
  ConntrackTable,
  connOf,
  dirOf,
  EARLY_DROP_SLOTS,
} from './table.js';
export {
  TCP_CT_IGNORE,
  TCP_CT_INVALID,
  TCP_CT_STATE_COUNT,
  TCP_CT_STATE_NAMES,
  TcpCtState,
  TcpFlagIndex,
  tcpFlagIndex,
  tcpNextState,
} from './tcp-state.js';
export { type ConntrackTimeouts, defaultTimeouts, kubeProxyTimeouts, NS_PER_SECOND } from './timeouts.js';
export {
  ICMP_ECHO,
  ICMP_ECHOREPLY,
  icmpInverseType,
  icmpStartsConnection,
  icmpTypeCode,
  protoName,
} from './tuple.js';
