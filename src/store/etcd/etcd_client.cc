#include "store/etcd/etcd_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "store/etcd/channel_args.h"

namespace runic::internal::etcd {
namespace {

namespace pb = etcdserverpb;

// What a failed attempt means for the call.
enum class Next {
  kOtherMember,  // nothing was applied: try again, on the next member
  kAmbiguous,    // a write may have been applied: the caller must find out
  kReauth,       // the auth token expired: authenticate, then try again
  kFinal,        // the cluster refused the call; nothing was applied
};

bool Contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

Next Classify(const grpc::Status& st, bool write) {
  const std::string& msg = st.error_message();
  switch (st.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
      return Next::kReauth;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Contains(msg, "invalid auth token") ? Next::kReauth : Next::kFinal;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      // "too many requests": the member is behind; the quota alarm is final.
      return Contains(msg, "too many requests") ? Next::kOtherMember : Next::kFinal;
    case grpc::StatusCode::OUT_OF_RANGE:
      // A member behind the revision a read is pinned at; another has it.
      return Contains(msg, "future revision") ? Next::kOtherMember : Next::kFinal;
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::UNIMPLEMENTED:
      return Next::kFinal;
    case grpc::StatusCode::UNAVAILABLE:
      // A connection that was never made carried no request.
      if (!write || Contains(msg, "failed to connect") || Contains(msg, "onnection refused") ||
          Contains(msg, "connections to all backends failing") || Contains(msg, "no leader")) {
        return Next::kOtherMember;
      }
      return Next::kAmbiguous;
    default:  // DEADLINE_EXCEEDED, CANCELLED, UNKNOWN, INTERNAL, ...
      return write ? Next::kAmbiguous : Next::kOtherMember;
  }
}

Status FinalStatus(const char* what, const grpc::Status& st) {
  const std::string msg = std::string("etcd ") + what + ": " + st.error_message();
  switch (st.error_code()) {
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return Status::IOError(msg +
                             " (the cluster is over its quota: compact, defragment and disarm the "
                             "NOSPACE alarm; see the README)");
    case grpc::StatusCode::PERMISSION_DENIED:
      return Status::InvalidArgument(msg + " (the etcd user lacks permission)");
    case grpc::StatusCode::OUT_OF_RANGE:
      return Status::Unavailable(std::string(kCompacted) + msg);
    default:
      return Status::InvalidArgument(msg);
  }
}

Result<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(std::string("cannot read the ") + what + " file '" + path + "'");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Endpoint(std::string node) {
  for (const char* scheme : {"http://", "https://"}) {
    if (node.starts_with(scheme)) node.erase(0, std::string_view(scheme).size());
  }
  return node;
}

}  // namespace

bool IsCompacted(const Status& s) { return !s.ok() && s.message().starts_with(kCompacted); }

struct Client::Member {
  std::string endpoint;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::KV::Stub> kv;
  std::unique_ptr<pb::Lease::Stub> lease;
  std::unique_ptr<pb::Maintenance::Stub> maintenance;
  std::unique_ptr<pb::Auth::Stub> auth;
  std::unique_ptr<pb::Watch::Stub> watch;
};

Client::Client(EtcdOptions options) : options_(std::move(options)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Connect(const std::vector<std::string>& nodes, const EtcdOptions& options) {
  if (nodes.empty()) return Status::InvalidArgument("etcd: no member endpoints given");
  if (options.call_timeout <= std::chrono::milliseconds(0)) {
    return Status::InvalidArgument("etcd: call_timeout must be positive");
  }
  if (options.lease_ttl < std::chrono::seconds(1)) {
    return Status::InvalidArgument("etcd: lease_ttl must be at least 1 s (etcd counts leases in seconds)");
  }
  if (options.user.empty() != options.password.empty()) {
    return Status::InvalidArgument("etcd: user and password go together");
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return Status::InvalidArgument("etcd: tls_cert_file and tls_key_file go together");
  }
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (!options.tls_ca_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    Result<std::string> ca = ReadFile(options.tls_ca_file, "TLS CA");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = std::move(*ca);
    if (!options.tls_cert_file.empty()) {
      Result<std::string> cert = ReadFile(options.tls_cert_file, "TLS certificate");
      if (!cert.ok()) return cert.status();
      Result<std::string> key = ReadFile(options.tls_key_file, "TLS key");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = std::move(*cert);
      ssl.pem_private_key = std::move(*key);
    }
    creds = grpc::SslCredentials(ssl);
  } else if (!options.tls_cert_file.empty()) {
    return Status::InvalidArgument("etcd: a client certificate needs tls_ca_file (TLS) too");
  }

  std::unique_ptr<Client> client(new Client(options));
  for (const std::string& node : nodes) {
    const std::string endpoint = Endpoint(node);
    if (endpoint.empty() || endpoint.find(':') == std::string::npos || endpoint.find('/') != std::string::npos) {
      return Status::InvalidArgument("etcd: '" + node + "' is not a member endpoint (expected host:port)");
    }
    auto m = std::make_unique<Member>();
    m->endpoint = endpoint;
    m->channel = grpc::CreateCustomChannel(endpoint, creds, MemberChannelArguments());
    m->kv = pb::KV::NewStub(m->channel);
    m->lease = pb::Lease::NewStub(m->channel);
    m->maintenance = pb::Maintenance::NewStub(m->channel);
    m->auth = pb::Auth::NewStub(m->channel);
    m->watch = pb::Watch::NewStub(m->channel);
    client->members_.push_back(std::move(m));
  }
  const Deadline deadline = client->NewDeadline();
  if (!options.user.empty()) {
    if (Status s = client->Authenticate(deadline); !s.ok()) return s;
  }
  // One read proves a member answers (and that the credentials work).
  pb::RangeRequest probe;
  probe.set_key(std::string("\0", 1));
  probe.set_serializable(true);
  probe.set_count_only(true);
  pb::RangeResponse resp;
  if (Status s = client->Range(probe, &resp, deadline); !s.ok()) return s;
  return client;
}

std::string Client::Token() const {
  std::shared_lock lock(token_mu_);
  return token_;
}

Status Client::Authenticate(Deadline deadline) {
  std::lock_guard lock(auth_mu_);
  pb::AuthenticateRequest req;
  req.set_name(options_.user);
  req.set_password(options_.password);
  pb::AuthenticateResponse resp;
  Status s = Invoke("authenticate", Kind::kRead, deadline,
                    [&](Member& m, grpc::ClientContext* ctx) { return m.auth->Authenticate(ctx, req, &resp); });
  if (!s.ok()) return s;
  std::unique_lock token_lock(token_mu_);
  token_ = resp.token();
  return Status::OK();
}

template <typename Call>
Status Client::Invoke(const char* what, Kind kind, Deadline deadline, Call&& call) {
  const bool write = kind == Kind::kWrite;
  // One attempt may not take the whole deadline: a member that hangs
  // (paused, partitioned) must leave time for the others.
  const auto per_attempt = std::max<Clock::duration>(options_.call_timeout / 3, std::chrono::milliseconds(100));
  std::string last_error = "no attempt made";
  int reauths = 0;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const Deadline now = Clock::now();
    if (now >= deadline) break;
    const std::size_t index = current_.load(std::memory_order_relaxed);  // < members_.size()
    Member& m = *members_[index];
    // Moves on from this member, unless another call did already.
    auto next_member = [&] {
      std::size_t expected = index;
      current_.compare_exchange_strong(expected, (index + 1) % members_.size());
    };
    grpc::ClientContext ctx;
    // gRPC takes system_clock deadlines.
    ctx.set_deadline(std::chrono::system_clock::now() + (std::min(deadline, now + per_attempt) - now));
    if (!options_.user.empty()) {
      if (std::string token = Token(); !token.empty()) ctx.AddMetadata("token", token);
    }
    const grpc::Status st = call(m, &ctx);
    if (st.ok()) {
      if (write) commits_.fetch_add(1, std::memory_order_relaxed);
      return Status::OK();
    }
    last_error = m.endpoint + ": " + st.error_message();
    switch (Classify(st, write)) {
      case Next::kFinal:
        return FinalStatus(what, st);
      case Next::kAmbiguous: {
        next_member();
        return Status::OutcomeUnknown(std::string("etcd ") + what + " may or may not have been applied (" + last_error +
                                      ")");
      }
      case Next::kReauth:
        if (options_.user.empty() || ++reauths > 3) return FinalStatus(what, st);
        if (std::string_view(what) == "authenticate") return FinalStatus(what, st);
        if (Status s = Authenticate(deadline); !s.ok()) return s;
        break;
      case Next::kOtherMember: {
        next_member();
        // After a round over every member, wait a little: an election or a
        // restart takes a moment.
        if ((attempt + 1) % members_.size() == 0) {
          std::this_thread::sleep_until(std::min(deadline, Clock::now() + std::chrono::milliseconds(50)));
        }
        break;
      }
    }
  }
  return Status::Unavailable(std::string("etcd ") + what + ": no member answered within " +
                             std::to_string(options_.call_timeout.count()) + " ms (last error: " + last_error + ")");
}

Status Client::Range(const pb::RangeRequest& req, pb::RangeResponse* resp, Deadline deadline) {
  return Invoke("range", Kind::kRead, deadline,
                [&](Member& m, grpc::ClientContext* ctx) { return m.kv->Range(ctx, req, resp); });
}

Status Client::Txn(const pb::TxnRequest& req, pb::TxnResponse* resp, Deadline deadline, bool read_only) {
  return Invoke("txn", read_only ? Kind::kRead : Kind::kWrite, deadline,
                [&](Member& m, grpc::ClientContext* ctx) { return m.kv->Txn(ctx, req, resp); });
}

Result<std::int64_t> Client::LeaseGrant(std::int64_t ttl_seconds, Deadline deadline) {
  pb::LeaseGrantRequest req;
  req.set_ttl(ttl_seconds);
  pb::LeaseGrantResponse resp;
  // A grant whose outcome is unknown leaves at most an unused lease, which
  // expires: safe to retry as a read.
  Status s = Invoke("lease grant", Kind::kRead, deadline,
                    [&](Member& m, grpc::ClientContext* ctx) { return m.lease->LeaseGrant(ctx, req, &resp); });
  if (!s.ok()) return s;
  if (!resp.error().empty()) return Status::Unavailable("etcd lease grant: " + resp.error());
  return resp.id();
}

Result<std::int64_t> Client::LeaseKeepAlive(std::int64_t lease, Deadline deadline) {
  pb::LeaseKeepAliveRequest req;
  req.set_id(lease);
  pb::LeaseKeepAliveResponse resp;
  Status s = Invoke("lease keep-alive", Kind::kRead, deadline, [&](Member& m, grpc::ClientContext* ctx) {
    auto stream = m.lease->LeaseKeepAlive(ctx);
    if (!stream->Write(req) || !stream->Read(&resp)) {
      stream->WritesDone();
      grpc::Status st = stream->Finish();
      return st.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "keep-alive stream closed") : st;
    }
    stream->WritesDone();
    ctx->TryCancel();  // the answer is in; do not wait for the server to close
    stream->Finish();
    return grpc::Status::OK;
  });
  if (!s.ok()) return s;
  return resp.ttl();
}

Status Client::LeaseRevoke(std::int64_t lease, Deadline deadline) {
  pb::LeaseRevokeRequest req;
  req.set_id(lease);
  pb::LeaseRevokeResponse resp;
  return Invoke("lease revoke", Kind::kRead, deadline,
                [&](Member& m, grpc::ClientContext* ctx) { return m.lease->LeaseRevoke(ctx, req, &resp); });
}

namespace {

class GrpcWatchStream final : public WatchStream {
 public:
  GrpcWatchStream(std::unique_ptr<grpc::ClientContext> ctx,
                  std::unique_ptr<grpc::ClientReaderWriter<pb::WatchRequest, pb::WatchResponse>> stream)
      : ctx_(std::move(ctx)), stream_(std::move(stream)) {}
  ~GrpcWatchStream() override {
    ctx_->TryCancel();
    (void)stream_->Finish();
  }
  bool Read(pb::WatchResponse* response) override { return stream_->Read(response); }
  void Cancel() override { ctx_->TryCancel(); }

 private:
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::WatchRequest, pb::WatchResponse>> stream_;
};

}  // namespace

// A stream lives as long as its watcher wants it: no deadline on its
// context; each member is tried once per round, a round at most every 50 ms.
Result<std::unique_ptr<WatchStream>> Client::Watch(const pb::WatchCreateRequest& create, pb::WatchResponse* created,
                                                   Deadline deadline) {
  pb::WatchRequest req;
  *req.mutable_create_request() = create;
  std::string last_error = "no attempt made";
  for (int attempt = 0; attempt < 1000 && Clock::now() < deadline; ++attempt) {
    const std::size_t index = (current_.load(std::memory_order_relaxed) + attempt) % members_.size();
    Member& m = *members_[index];
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!options_.user.empty()) {
      if (std::string token = Token(); !token.empty()) ctx->AddMetadata("token", token);
    }
    auto stream = m.watch->Watch(ctx.get());
    // The confirmation must come within the deadline: a member that hangs
    // is cancelled and the next one tried.
    std::atomic<bool> answered{false};
    std::thread guard([&] {
      while (!answered.load() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (!answered.load()) ctx->TryCancel();
    });
    const bool ok = stream->Write(req) && stream->Read(created);
    answered.store(true);
    guard.join();
    if (ok && created->created() && !created->canceled()) {
      return std::unique_ptr<WatchStream>(new GrpcWatchStream(std::move(ctx), std::move(stream)));
    }
    ctx->TryCancel();
    const grpc::Status st = stream->Finish();
    last_error = m.endpoint + ": " +
                 (ok                           ? "the watch was refused: " + created->cancel_reason()
                  : st.error_message().empty() ? std::string("the stream closed")
                                               : st.error_message());
    if (ok) return Status::InvalidArgument("etcd watch: " + last_error);
    if ((attempt + 1) % members_.size() == 0) {
      std::this_thread::sleep_until(std::min(deadline, Clock::now() + std::chrono::milliseconds(50)));
    }
  }
  return Status::Unavailable("etcd watch: no member answered within " + std::to_string(options_.call_timeout.count()) +
                             " ms (last error: " + last_error + ")");
}

Status Client::MemberStatus(pb::StatusResponse* resp, Deadline deadline) {
  pb::StatusRequest req;
  return Invoke("status", Kind::kRead, deadline,
                [&](Member& m, grpc::ClientContext* ctx) { return m.maintenance->Status(ctx, req, resp); });
}

}  // namespace runic::internal::etcd
