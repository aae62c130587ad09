// runic_bench_etcd_raw: the "etcd-raw" baseline of runic_bench. The store
// workloads straight on etcd's gRPC API, with the engine's generated stubs
// (the runic_etcd_proto objects) and the same channel settings, on a fresh
// 3-member cluster per run:
//   save    one Put of the log
//   load    one serializable Range
//   append  one transaction: compare the workflow's counter key's
//           mod_revision, put the counter and the events (on a failed
//           compare the failure branch returns the counter; try again)
//   stream  range reads of the workflow's event keys, pages of up to 1000
//           keys at the revision of the first page
// with the counter's mod revision kept in memory, as the engine caches it.
//
// A program of its own because the generated code registers etcd_rpc.proto
// in protobuf's global descriptor pool when it loads, and librunic (which
// runic_bench links) holds a copy that registers it too: both in one process
// abort at start ("File already exists in database: etcd_rpc.proto"). It
// runs the shared workload code (workloads.cc) and prints each row as JSON
// (row_json.h) for runic_bench, which runs it once per run:
//
//   runic_bench_etcd_raw --workloads W1,W3 --dir DIR [--quick]
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include <CLI/CLI.hpp>

#include "etcd_bench_cluster.h"
#include "etcd_rpc.grpc.pb.h"
#include "row_json.h"
#include "runner_workloads.h"
#include "store/etcd/channel_args.h"
#include "target.h"
#include "workloads.h"

namespace bench {
namespace {

namespace pb = etcdserverpb;

constexpr std::int64_t kPageKeys = 1000;
constexpr auto kCallTimeout = std::chrono::seconds(5);

void PutFixed64(std::string* out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
}
std::uint64_t GetFixed64(std::string_view in) {
  if (in.size() < 8) throw BenchError("etcd-raw: malformed counter or key");
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

class EtcdRawTarget final : public Target {
 public:
  EtcdRawTarget() : cluster_(std::make_unique<BenchCluster>()) {}
  ~EtcdRawTarget() override { Close(); }

  // One channel to the first endpoint (the leader), with the engine's
  // channel arguments.
  void Open() override {
    channel_ = grpc::CreateCustomChannel(cluster_->endpoints().front(), grpc::InsecureChannelCredentials(),
                                         runic::internal::etcd::MemberChannelArguments());
    kv_ = pb::KV::NewStub(channel_);
    maintenance_ = pb::Maintenance::NewStub(channel_);
  }
  void Close() override {
    kv_.reset();
    maintenance_.reset();
    channel_.reset();
  }
  bool durable() const override { return true; }

  void Save(std::string_view id, std::string_view log) override {
    pb::PutRequest req;
    req.set_key(Key('L', id));
    req.set_value(std::string(log));
    pb::PutResponse resp;
    Call("put", [&](grpc::ClientContext* ctx) { return kv_->Put(ctx, req, &resp); });
    commits_.fetch_add(1, std::memory_order_relaxed);
  }

  std::string Load(std::string_view id) override {
    pb::RangeRequest req;
    req.set_key(Key('L', id));
    req.set_serializable(true);
    pb::RangeResponse resp;
    Call("range", [&](grpc::ClientContext* ctx) { return kv_->Range(ctx, req, &resp); });
    if (resp.kvs_size() == 0) throw BenchError("etcd-raw: no log '" + std::string(id) + "'");
    return std::move(*resp.mutable_kvs(0)->mutable_value());
  }

  std::uint64_t Append(std::string_view id, const std::vector<std::string_view>& events) override {
    const std::string counter_key = Key('C', id);
    const std::string events_prefix = EventsPrefix(id);
    State state = GetState(counter_key);
    for (int round = 0; round < 1000; ++round) {
      pb::TxnRequest txn;
      pb::Compare* cmp = txn.add_compare();
      cmp->set_result(pb::Compare::EQUAL);
      cmp->set_target(pb::Compare::MOD);
      cmp->set_key(counter_key);
      cmp->set_mod_revision(state.mod_revision);  // 0: the counter does not exist
      std::uint64_t seq = state.cursor;
      for (std::string_view e : events) {
        pb::PutRequest* put = txn.add_success()->mutable_request_put();
        put->set_key(EventKey(events_prefix, ++seq));
        put->set_value(std::string(e));
      }
      pb::PutRequest* put = txn.add_success()->mutable_request_put();
      put->set_key(counter_key);
      std::string counter;
      PutFixed64(&counter, seq);
      put->set_value(std::move(counter));
      txn.add_failure()->mutable_request_range()->set_key(counter_key);
      pb::TxnResponse resp;
      Call("txn", [&](grpc::ClientContext* ctx) { return kv_->Txn(ctx, txn, &resp); });
      commits_.fetch_add(1, std::memory_order_relaxed);
      if (resp.succeeded()) {
        state = {seq, resp.header().revision()};
        SetState(counter_key, state);
        return seq;
      }
      // Another writer moved the counter: the failure branch read it.
      if (resp.responses_size() != 1) throw BenchError("etcd-raw: a failed append returned no counter");
      const auto& kvs = resp.responses(0).response_range().kvs();
      state = kvs.empty() ? State{} : State{GetFixed64(kvs[0].value()), kvs[0].mod_revision()};
      SetState(counter_key, state);
    }
    throw BenchError("etcd-raw: append to '" + std::string(id) + "' kept conflicting");
  }

  std::uint64_t Stream(std::string_view id, const EventFn& fn) override {
    const std::string prefix = EventsPrefix(id);
    pb::RangeRequest req;
    req.set_range_end(PrefixEnd(prefix));
    req.set_limit(kPageKeys);
    req.set_serializable(true);
    std::uint64_t next = 1;
    std::string from = EventKey(prefix, 1);
    for (;;) {
      req.set_key(from);
      pb::RangeResponse resp;
      Call("range", [&](grpc::ClientContext* ctx) { return kv_->Range(ctx, req, &resp); });
      if (req.revision() == 0) req.set_revision(resp.header().revision());  // later pages: the same revision
      for (const pb::KeyValue& kv : resp.kvs()) {
        const std::uint64_t seq = GetFixed64(std::string_view(kv.key()).substr(prefix.size()));
        if (seq != next) {
          throw BenchError("etcd-raw: workflow '" + std::string(id) + "': sequence " + std::to_string(seq) + " where " +
                           std::to_string(next) + " was expected");
        }
        fn(seq, kv.value());
        ++next;
      }
      if (!resp.more() || resp.kvs().empty()) break;
      from = EventKey(prefix, next);
    }
    if (next == 1) throw BenchError("etcd-raw: no events for '" + std::string(id) + "'");
    return next - 1;
  }

  SyncCounters Counters() override {
    return {true, commits_.load(), static_cast<std::uint64_t>(cluster_->Probe().at("etcd_wal_fsyncs")), true};
  }

  std::optional<std::uint64_t> DiskBytes() override {
    pb::StatusRequest req;
    pb::StatusResponse resp;
    Call("status", [&](grpc::ClientContext* ctx) { return maintenance_->Status(ctx, req, &resp); });
    return static_cast<std::uint64_t>(resp.dbsize());
  }

  std::map<std::string, double> Probe() override {
    std::map<std::string, double> figures = cluster_->Probe();
    figures["client_cpu_ms"] = ProcessCpuMs();
    return figures;
  }

 private:
  struct State {
    std::uint64_t cursor = 0;
    std::int64_t mod_revision = 0;
  };

  template <typename Fn>
  static void Call(const char* what, Fn&& fn) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    const grpc::Status s = fn(&ctx);
    if (!s.ok()) throw BenchError(std::string("etcd-raw ") + what + ": " + s.error_message());
  }

  static std::string Key(char table, std::string_view id) { return std::string(1, table) + std::string(id); }
  static std::string EventsPrefix(std::string_view id) {
    if (id.size() > 255) throw BenchError("id too long");
    std::string k = "E";
    k.push_back(static_cast<char>(id.size()));
    k.append(id);
    return k;
  }
  static std::string EventKey(const std::string& prefix, std::uint64_t seq) {
    std::string k = prefix;
    PutFixed64(&k, seq);
    return k;
  }
  // The first key after every key that starts with `prefix`.
  static std::string PrefixEnd(std::string prefix) {
    while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
    if (prefix.empty()) return std::string(1, '\0');  // etcd: to the end of the key space
    prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
    return prefix;
  }

  State GetState(const std::string& counter_key) {
    std::lock_guard lock(states_mu_);
    auto it = states_.find(counter_key);
    return it == states_.end() ? State{} : it->second;
  }
  void SetState(const std::string& counter_key, const State& s) {
    std::lock_guard lock(states_mu_);
    states_[counter_key] = s;
  }

  const std::unique_ptr<BenchCluster> cluster_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::KV::Stub> kv_;
  std::unique_ptr<pb::Maintenance::Stub> maintenance_;
  std::atomic<std::uint64_t> commits_{0};
  std::mutex states_mu_;
  std::unordered_map<std::string, State> states_;  // counter key -> what this client last saw
};

int Main(int argc, char** argv) {
  std::vector<std::string> workloads;
  std::string dir;
  bool quick = false;
  CLI::App app{"runic_bench_etcd_raw: the etcd-raw baseline (run by runic_bench)"};
  app.add_option("--workloads", workloads, "the store workloads to run")->delimiter(',')->option_text("W1,W3");
  app.add_option("--dir", dir, "where the cluster's directories go")->required()->option_text("DIR");
  app.add_flag("--quick", quick, "a tenth of the work");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (dir.empty()) throw BenchError("runic_bench_etcd_raw: --dir is required");
  for (Row& r : RunOnce("etcd-raw", "cluster", workloads, ScaleFor(quick), dir)) {
    std::puts(RowToJson(r).dump().c_str());
  }
  return 0;
}

}  // namespace

// This program measures etcd-raw alone: no other target, no Runner.
std::unique_ptr<Target> MakeTarget(const std::string& engine, const std::string& mode, const std::string& dir) {
  (void)mode;
  (void)dir;
  if (engine != "etcd-raw") throw BenchError("runic_bench_etcd_raw measures etcd-raw only, not '" + engine + "'");
  return std::make_unique<EtcdRawTarget>();
}

bool RunnerEngine(const std::string& engine) {
  (void)engine;
  return false;
}

Row RunRunnerWorkload(const std::string& engine, const std::string& mode, const std::string& workload,
                      const Scale& scale, const std::string& dir) {
  (void)mode;
  (void)scale;
  (void)dir;
  throw BenchError("runic_bench_etcd_raw runs no Runner workload (" + workload + " on " + engine + ")");
}

}  // namespace bench

int main(int argc, char** argv) {
  try {
    return bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "runic_bench_etcd_raw: FAILED: %s\n", e.what());
    return 1;
  }
}
