// Database URIs: "<engine>:<where>?<param>=<value>&...".
#include <charconv>
#include <string>

#include "runic/database.h"

namespace runic {
namespace {

Result<std::string> PercentDecode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= in.size() ||
        std::from_chars(in.data() + i + 1, in.data() + i + 3, value, 16).ptr != in.data() + i + 3) {
      return Status::InvalidArgument("bad percent-escape in URI near '" + std::string(in.substr(i)) + "'");
    }
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

Result<bool> ParseBool(std::string_view key, std::string_view v) {
  if (v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  return Status::InvalidArgument("URI parameter '" + std::string(key) + "' must be 0 or 1, not '" +
                                 std::string(v) + "'");
}

Status ApplyParam(std::string_view key, std::string_view value, DatabaseOptions* o) {
  if (key == "sync" || key == "create" || key == "read_only") {
    Result<bool> b = ParseBool(key, value);
    if (!b.ok()) return b.status();
    (key == "sync" ? o->sync : key == "create" ? o->create_if_missing : o->read_only) = *b;
    return Status::OK();
  }
  if (key == "read_cache_bytes") {
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || ptr != value.data() + value.size() || value.empty()) {
      return Status::InvalidArgument("URI parameter 'read_cache_bytes' must be a number, not '" +
                                     std::string(value) + "'");
    }
    o->read_cache_bytes = n;
    return Status::OK();
  }
  return Status::InvalidArgument("unknown URI parameter '" + std::string(key) +
                                 "' (known: sync, read_cache_bytes, create, read_only)");
}

}  // namespace

Result<DatabaseOptions> Database::ParseUri(std::string_view uri) {
  const std::size_t colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument("'" + std::string(uri) +
                                   "' is not a database URI: expected memory:[NAME] or disk://[/PATH]");
  }
  const std::string_view scheme = uri.substr(0, colon);
  std::string_view rest = uri.substr(colon + 1);
  std::string_view query;
  if (std::size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }

  DatabaseOptions o;
  if (scheme == "memory") {
    o.disc_copies = false;
  } else if (scheme == "disk") {
    o.disc_copies = true;
    if (rest.starts_with("//")) {
      rest.remove_prefix(2);
      // disk://host/path is not supported: a disk database is local.
      if (!rest.empty() && rest.front() != '/') {
        return Status::InvalidArgument("disk URI '" + std::string(uri) +
                                       "' names a host; use disk:///absolute/path or disk:relative/path");
      }
    }
  } else if (scheme == "etcd") {
    return Status::InvalidArgument("engine 'etcd' is not available in this version of Runic; use memory: or disk:");
  } else {
    return Status::InvalidArgument("unknown engine '" + std::string(scheme) + "' in URI '" + std::string(uri) +
                                   "' (known: memory, disk)");
  }
  Result<std::string> where = PercentDecode(rest);
  if (!where.ok()) return where.status();
  o.dir = std::move(*where);

  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument("URI parameter '" + std::string(pair) + "' has no value");
    }
    Status s = ApplyParam(pair.substr(0, eq), pair.substr(eq + 1), &o);
    if (!s.ok()) return s;
  }
  if (!o.disc_copies && (o.sync || !o.create_if_missing || o.read_only)) {
    return Status::InvalidArgument("sync, create and read_only apply to disk databases only");
  }
  return o;
}

}  // namespace runic
