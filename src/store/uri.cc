// Database URIs: "<engine>:<where>?<param>=<value>&...".
#include <algorithm>
#include <charconv>
#include <functional>
#include <set>
#include <string>

#include "runic/database.h"
#include "store/uri.h"

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

// The characters of a host name or IPv4 address (RFC 1123 names, and '_',
// which some internal DNS zones use).
bool IsHostNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

// The characters inside the brackets of an IPv6 literal, zone ("%eth0") included.
bool IsIpv6LiteralChar(char c) { return IsHostNameChar(c) || c == ':' || c == '%'; }

}  // namespace

namespace internal {

// Shared by ParseUri and Database::Open (database.cc), so that a member
// refused in a URI is refused the same way in DatabaseOptions::nodes. The
// point is to fail at once: gRPC takes almost anything as a target and
// reports a bad one only as a member that never answers, after the call
// timeout (it even dials port 99999 as 34463, modulo 65536).
Status CheckEtcdMember(std::string_view member) {
  const std::string what = "etcd member '" + std::string(member) + "'";
  std::string_view rest = member;
  // The scheme the etcd tools print; the client strips it.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (rest.starts_with(scheme)) rest.remove_prefix(scheme.size());
  }
  if (rest.empty()) return Status::InvalidArgument(what + " is empty (expected host:port)");
  std::string_view host, port;
  if (rest.front() == '[') {  // [IPv6]:port
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument(what + " opens an IPv6 address with '[' and never closes it");
    }
    host = rest.substr(1, close - 1);
    if (host.empty()) return Status::InvalidArgument(what + " has an empty host");
    if (!std::all_of(host.begin(), host.end(), IsIpv6LiteralChar) || host.find(':') == std::string_view::npos) {
      return Status::InvalidArgument(what + ": '" + std::string(host) + "' is not an IPv6 address");
    }
    rest.remove_prefix(close + 1);
    if (!rest.starts_with(':')) return Status::InvalidArgument(what + " has no port (expected [address]:port)");
    port = rest.substr(1);
  } else {
    const std::size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return Status::InvalidArgument(what + " has no port (expected host:port)");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.empty()) return Status::InvalidArgument(what + " has an empty host (expected host:port)");
    if (host.find(':') != std::string_view::npos) {
      return Status::InvalidArgument(what + ": an IPv6 address goes in brackets, as in [::1]:2379");
    }
    if (!std::all_of(host.begin(), host.end(), IsHostNameChar)) {
      return Status::InvalidArgument(what + ": the host '" + std::string(host) +
                                     "' may hold only letters, digits, '.', '-' and '_'");
    }
  }
  if (port.empty()) return Status::InvalidArgument(what + " has an empty port (expected host:port)");
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Status::InvalidArgument(what + ": the port '" + std::string(port) + "' is not a number");
  }
  unsigned long number = 0;  // NOLINT(runtime/int): from_chars' widest portable unsigned
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (ec != std::errc() || ptr != port.data() + port.size() || number < 1 || number > 65535) {
    return Status::InvalidArgument(what + ": the port " + std::string(port) + " is out of range (1 to 65535)");
  }
  return Status::OK();
}

}  // namespace internal

Result<DatabaseOptions> Database::ParseUri(std::string_view uri) {
  const std::size_t colon = uri.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument(
        "'" + std::string(uri) +
        "' is not a database URI: expected memory:[NAME], disk://[/PATH] or etcd://HOST:PORT[,...][/NAME]");
  }
  const std::string_view scheme = uri.substr(0, colon);
  const bool etcd = scheme == "etcd";
  // A fragment would otherwise become part of the directory, the name or a
  // parameter's value. An etcd URI's is not shown: it is most likely the
  // rest of a password with an unescaped '#'.
  if (const std::size_t hash = uri.find('#'); hash != std::string_view::npos) {
    return Status::InvalidArgument(std::string("a database URI has no fragment, but this one has ") +
                                   (etcd ? "a '#'" : "'" + std::string(uri.substr(hash)) + "'") +
                                   "; write a '#' that belongs to a path, name or value as %23");
  }
  std::string_view rest = uri.substr(colon + 1);
  std::string_view query;
  bool has_query = false;
  if (std::size_t q = rest.find('?'); q != std::string_view::npos) {
    has_query = true;
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (has_query && query.empty()) {
    return Status::InvalidArgument("URI '" + std::string(uri) + "' ends in a '?' with no parameter after it");
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
  } else if (etcd) {
    // etcd://host:port[,host:port...][/NAME]
    if (!rest.starts_with("//")) {
      return Status::InvalidArgument("etcd URI '" + std::string(uri) +
                                     "' must be etcd://host:port[,host:port...][/NAME]");
    }
    rest.remove_prefix(2);
    const std::size_t slash = rest.find('/');
    std::string_view hosts = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (hosts.empty()) {
      return Status::InvalidArgument("etcd URI '" + std::string(uri) +
                                     "' lists no member: expected etcd://host:port[,host:port...][/NAME]");
    }
    for (;;) {
      const std::size_t comma = hosts.find(',');
      std::string_view member = hosts.substr(0, comma);
      if (Status s = internal::CheckEtcdMember(member); !s.ok()) return s;
      o.nodes.emplace_back(member);
      if (comma == std::string_view::npos) break;
      hosts.remove_prefix(comma + 1);
    }
  } else {
    return Status::InvalidArgument("unknown engine '" + std::string(scheme) + "' in URI '" + std::string(uri) +
                                   "' (known: memory, disk, etcd)");
  }
  Result<std::string> where = PercentDecode(rest);
  if (!where.ok()) return where.status();
  o.dir = std::move(*where);

  // Each parameter once: with a repeat, which one wins would be a guess
  // (a URI assembled from pieces that disagree), so say so instead.
  std::set<std::string_view, std::less<>> seen;
  while (has_query) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    has_query = amp != std::string_view::npos;
    if (has_query) query.remove_prefix(amp + 1);
    if (pair.empty()) {
      // The query is not shown: it may hold a password.
      return Status::InvalidArgument("URI '" + std::string(uri.substr(0, uri.find('?'))) +
                                     "?...' has an empty parameter: a '&' at the start or end of the query, or '&&'");
    }
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument("URI parameter '" + std::string(pair) + "' has no value");
    }
    const std::string_view key = pair.substr(0, eq);
    if (!seen.insert(key).second) {
      // The value is not shown: it may be a password.
      return Status::InvalidArgument("URI parameter '" + std::string(key) + "' is given more than once");
    }
    Status s;
    if (!etcd) {
      s = ApplyParam(key, pair.substr(eq + 1), &o);
    } else {
      Result<std::string> value = PercentDecode(pair.substr(eq + 1));
      if (!value.ok()) return value.status();
      s = ApplyEtcdParam(key, *value, &o);
    }
    if (!s.ok()) return s;
  }
  if (!o.disc_copies && (o.sync || !o.create_if_missing || o.read_only)) {
    return Status::InvalidArgument("sync, create and read_only apply to disk databases only");
  }
  return o;
}

}  // namespace runic
