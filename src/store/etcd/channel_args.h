// The gRPC channel settings of a connection to one etcd member: the
// engine's client (etcd_client.cc) and the benchmark's etcd-raw baseline
// (bench/etcd_raw.cc) both use them, so that the baseline measures the same
// connection set-up.
#ifndef RUNIC_STORE_ETCD_CHANNEL_ARGS_H_
#define RUNIC_STORE_ETCD_CHANNEL_ARGS_H_

#include <grpcpp/grpcpp.h>

namespace runic::internal::etcd {

inline grpc::ChannelArguments MemberChannelArguments() {
  grpc::ChannelArguments args;
  // Reconnect quickly to a member that comes back (gRPC's default backoff
  // grows to two minutes).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  // Keep one connection per member for this client rather than sharing
  // gRPC's global subchannel pool (a closed client leaves nothing behind).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return args;
}

}  // namespace runic::internal::etcd

#endif  // RUNIC_STORE_ETCD_CHANNEL_ARGS_H_
