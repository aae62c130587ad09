// What URI parsing (uri.cc) shares with Database::Open (database.cc): the
// check of one etcd member, for URIs and DatabaseOptions::nodes alike.
#ifndef RUNIC_SRC_STORE_URI_H_
#define RUNIC_SRC_STORE_URI_H_

#include <string_view>

#include "runic/status.h"

namespace runic::internal {

// OK when `member` is "host:port" or "[IPv6]:port" with a port of 1 to 65535
// (optionally after http:// or https://), else kInvalidArgument naming the
// member and what is wrong with it.
Status CheckEtcdMember(std::string_view member);

}  // namespace runic::internal

#endif  // RUNIC_SRC_STORE_URI_H_
