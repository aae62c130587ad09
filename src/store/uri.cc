// Database URIs: "<engine>:<where>?<param>=<value>&...".
#include <algorithm>
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
  return Status::InvalidArgument("URI parameter '" + std::string(key) + "' must be 0 or 1, not '" + std::string(v) +
                                 "'");
}

Result<std::int64_t> ParseMillis(std::string_view key, std::string_view v) {
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || ptr != v.data() + v.size() || v.empty() || n <= 0) {
    return Status::InvalidArgument("URI parameter '" + std::string(key) + "' must be a positive number of ms, not '" +
                                   std::string(v) + "'");
  }
  return n;
}

// Parameters of etcd:// URIs; `value` is percent-decoded.
Status ApplyEtcdParam(std::string_view key, const std::string& value, DatabaseOptions* o) {
  EtcdOptions& e = o->etcd;
  if (key == "read_only" || key == "create") {
    Result<bool> b = ParseBool(key, value);
    if (!b.ok()) return b.status();
    (key == "read_only" ? o->read_only : o->create_if_missing) = *b;
  } else if (key == "linearizable") {
    Result<bool> b = ParseBool(key, value);
    if (!b.ok()) return b.status();
    e.linearizable_reads = *b;
  } else if (key == "timeout_ms" || key == "lease_ttl_ms") {
    Result<std::int64_t> ms = ParseMillis(key, value);
    if (!ms.ok()) return ms.status();
    (key == "timeout_ms" ? e.call_timeout : e.lease_ttl) = std::chrono::milliseconds(*ms);
  } else if (key == "ca" || key == "cert" || key == "key" || key == "user" || key == "password") {
    (key == "ca"     ? e.tls_ca_file
     : key == "cert" ? e.tls_cert_file
     : key == "key"  ? e.tls_key_file
     : key == "user" ? e.user
                     : e.password) = value;
  } else {
    return Status::InvalidArgument("unknown etcd URI parameter '" + std::string(key) +
                                   "' (known: ca, cert, key, user, password, timeout_ms, lease_ttl_ms, "
                                   "linearizable, read_only, create)");
  }
  return Status::OK();
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
      return Status::InvalidArgument("URI parameter 'read_cache_bytes' must be a number, not '" + std::string(value) +
                                     "'");
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
    return Status::InvalidArgument(
        "'" + std::string(uri) +
        "' is not a database URI: expected memory:[NAME], disk://[/PATH] or etcd://HOST:PORT[,...][/NAME]");
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
    // etcd://host:port[,host:port...][/NAME]
    if (!rest.starts_with("//")) {
      return Status::InvalidArgument("etcd URI '" + std::string(uri) +
                                     "' must be etcd://host:port[,host:port...][/NAME]");
    }
    rest.remove_prefix(2);
    const std::size_t slash = rest.find('/');
    std::string_view hosts = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    while (!hosts.empty()) {
      const std::size_t comma = hosts.find(',');
      o.nodes.emplace_back(hosts.substr(0, comma));
      hosts = comma == std::string_view::npos ? std::string_view() : hosts.substr(comma + 1);
    }
    if (o.nodes.empty() || std::any_of(o.nodes.begin(), o.nodes.end(), [](const std::string& n) {
          return n.empty() || n.find(':') == std::string::npos;
        })) {
      return Status::InvalidArgument("etcd URI '" + std::string(uri) + "' must list members as host:port,host:port");
    }
  } else {
    return Status::InvalidArgument("unknown engine '" + std::string(scheme) + "' in URI '" + std::string(uri) +
                                   "' (known: memory, disk, etcd)");
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
    Status s;
    if (o.nodes.empty()) {
      s = ApplyParam(pair.substr(0, eq), pair.substr(eq + 1), &o);
    } else {
      Result<std::string> value = PercentDecode(pair.substr(eq + 1));
      if (!value.ok()) return value.status();
      s = ApplyEtcdParam(pair.substr(0, eq), *value, &o);
    }
    if (!s.ok()) return s;
  }
  if (!o.disc_copies && (o.sync || !o.create_if_missing || o.read_only)) {
    return Status::InvalidArgument("sync, create and read_only apply to disk databases only");
  }
  return o;
}

}  // namespace runic
