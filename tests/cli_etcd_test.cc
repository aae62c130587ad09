// The `runic` command-line tool on the etcd engine, driven as a user would:
// the real binary in a child process, against a real 3-member etcd cluster
// (one per test process, shared by its cases; each case has a database of
// its own, named after it). cli_test covers the embedded engines.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "child_process.h"
#include "cli_util.h"
#include "runic/runic.h"
#include "shared_etcd_cluster.h"
#include "test_util.h"

namespace runic {
namespace {

using namespace std::chrono_literals;
using test::Output;
using test::ParseOrFail;
using test::Quote;
using test::RunCli;
using Json = nlohmann::json;

// The line of `out` that starts with `prefix`, or "".
std::string LineStarting(const Output& out, const std::string& prefix) {
  for (const std::string& l : out.lines) {
    if (l.rfind(prefix, 0) == 0) return l;
  }
  return "";
}

class CliEtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = &test::SharedEtcdCluster();
    name_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    uri_ = Uri(name_);
  }

  // The cluster's URI naming database `name`, with `params` added.
  std::string Uri(const std::string& name, const std::string& params = "") const {
    std::string uri = cluster_->Uri(params);
    const std::size_t q = uri.find('?');
    return q == std::string::npos ? uri + "/" + name : uri.substr(0, q) + "/" + name + uri.substr(q);
  }

  // Writes into `uri` (runner "orders") what cli_test's store holds: a
  // Runner's workflow (3 steps, 8 events), raw events that are not in the
  // Runner's format, a log-only workflow. Closed again afterwards (which
  // gives up the Runner's ownership at once).
  void Populate(const std::string& uri) {
    auto db = *Database::OpenUri(uri);
    auto store = std::move(*db->OpenStore("orders"));
    ASSERT_NO_FATAL_FAILURE(test::FillOrders(*store));
  }

  // The cluster's revision: it grows with every write to any key.
  std::int64_t Revision() {
    test::EtcdctlResult r = cluster_->Etcdctl({"get", "any-key", "-w", "json"});
    EXPECT_TRUE(r.ok()) << r.err;
    Json j = ParseOrFail(r.out);
    return j.is_object() ? j["header"]["revision"].get<std::int64_t>() : -1;
  }

  std::vector<std::string> With(std::vector<std::string> args) const {
    args.insert(args.end(), {"--store", uri_, "--runner", "orders"});
    return args;
  }

  test::EtcdCluster* cluster_ = nullptr;
  std::string name_, uri_;
  test::TempDir dir_;
};

TEST_F(CliEtcdTest, HelpNamesEtcdUris) {
  Output top = RunCli({"--help"});
  ASSERT_EQ(top.exit_code, 0) << top.text();
  EXPECT_NE(top.text().find("etcd://"), std::string::npos) << top.text();
  EXPECT_NE(top.text().find("timeout_ms"), std::string::npos) << top.text();
  for (const char* sub : {"stats", "backup", "restore", "migrate"}) {
    Output help = RunCli({sub, "--help"});
    EXPECT_EQ(help.exit_code, 0) << sub;
    EXPECT_NE(help.text().find("etcd"), std::string::npos) << sub << ": " << help.text();
  }
}

TEST_F(CliEtcdTest, RunnersLsAndShowReadTheCluster) {
  Populate(uri_);
  const std::int64_t revision = Revision();
  Output runners = RunCli(With({"runners", "--json"}));
  ASSERT_EQ(runners.exit_code, 0) << runners.text();
  Json r = ParseOrFail(runners.text());
  ASSERT_EQ(r.size(), 1u) << r;
  EXPECT_EQ(r[0]["runner"], "orders");
  EXPECT_EQ(r[0]["workflows_with_events"], 2);
  EXPECT_EQ(r[0]["events"], 11);

  Output ls = RunCli(With({"ls", "--json"}));
  ASSERT_EQ(ls.exit_code, 0) << ls.text();
  Json l = ParseOrFail(ls.text());
  ASSERT_EQ(l.size(), 3u) << l;
  EXPECT_EQ(l[0]["id"], "log-only");
  EXPECT_EQ(l[0]["log_bytes"], 5);
  EXPECT_EQ(l[1]["id"], "order-1");
  EXPECT_EQ(l[1]["cursor"], 8);
  EXPECT_EQ(l[1]["events"], 8);
  EXPECT_EQ(l[2]["id"], "raw");
  EXPECT_EQ(ParseOrFail(RunCli(With({"ls", "--json", "--prefix", "order"})).text()).size(), 1u);
  Output table = RunCli(With({"ls"}));
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_EQ(table.lines.size(), 4u) << table.text();

  Output show = RunCli(With({"show", "order-1"}));
  ASSERT_EQ(show.exit_code, 0) << show.text();
  ASSERT_EQ(show.lines.size(), 9u) << show.text();
  std::vector<std::string> types;
  for (std::size_t i = 1; i < show.lines.size(); ++i) types.push_back(ParseOrFail(show.lines[i])["type"]);
  EXPECT_EQ(types,
            (std::vector<std::string>{"start", "input", "dispatch", "done", "dispatch", "done", "dispatch", "done"}));
  EXPECT_EQ(ParseOrFail(show.lines.back())["value"], 43);  // from the fact table on etcd
  Output raw = RunCli(With({"show", "raw", "--from", "1", "--limit", "1"}));
  ASSERT_EQ(raw.lines.size(), 2u) << raw.text();
  EXPECT_TRUE(ParseOrFail(raw.lines[1]).contains("base64")) << raw.lines[1];

  // The environment names the store, as for the other engines.
  Output env = RunCli({"ls", "--json"}, "RUNIC_STORE=" + Quote(uri_) + " RUNIC_RUNNER=orders");
  EXPECT_EQ(env.exit_code, 0) << env.text();
  EXPECT_EQ(ParseOrFail(env.text()).size(), 3u);

  // Reading opens the database read-only: nothing above wrote to the
  // cluster (not even the runner's marker that opening its tables writes).
  EXPECT_EQ(RunCli(With({"stats"})).exit_code, 0);
  EXPECT_EQ(RunCli({"migrate", "--from", uri_, "--to", "disk://" + dir_.Sub("read-copy")}).exit_code, 0);
  EXPECT_EQ(Revision(), revision) << "a reading subcommand wrote to the cluster";
}

TEST_F(CliEtcdTest, StatsShowTheClusterNotADirectory) {
  Populate(uri_);
  Output stats = RunCli(With({"stats", "--json"}));
  ASSERT_EQ(stats.exit_code, 0) << stats.text();
  Json s = ParseOrFail(stats.text());
  EXPECT_EQ(s["engine"], "etcd");
  EXPECT_EQ(s["database"], name_);
  EXPECT_EQ(s["members"].get<std::vector<std::string>>(), cluster_->ClientEndpoints());
  ASSERT_TRUE(s["backend_bytes"].is_number_unsigned()) << s;
  EXPECT_GT(s["backend_bytes"].get<std::uint64_t>(), 0u);
  for (const char* disk_only : {"dir", "sync", "read_cache_bytes", "disk_bytes"}) {
    EXPECT_FALSE(s.contains(disk_only)) << disk_only << " in " << s;
  }
  EXPECT_EQ(s["runners"]["orders"]["events"], 11);
  EXPECT_EQ(s["runners"]["orders"]["logs"], 1);

  Output text = RunCli(With({"stats"}));
  ASSERT_EQ(text.exit_code, 0) << text.text();
  const std::string engine = LineStarting(text, "engine");
  EXPECT_NE(engine.find("etcd, database '" + name_ + "'"), std::string::npos) << text.text();
  for (const std::string& member : cluster_->ClientEndpoints()) {
    EXPECT_NE(engine.find(member), std::string::npos) << member << ": " << text.text();
  }
  EXPECT_NE(LineStarting(text, "durability").find("quorum"), std::string::npos) << text.text();
  EXPECT_NE(LineStarting(text, "backend"), "") << text.text();
  EXPECT_EQ(text.text().find("disk bytes"), std::string::npos) << text.text();
  EXPECT_EQ(text.text().find("as the process that writes it"), std::string::npos) << text.text();
}

TEST_F(CliEtcdTest, ShowFollowPrintsWhatAnotherProcessAppends) {
  Populate(uri_);
  std::string cmd = "exec " + Quote(RUNIC_CLI) + " show raw --follow --store " + Quote(uri_) + " --runner orders";
  auto follow = test::ChildProcess::Start("/bin/sh", {"-c", cmd});
  ASSERT_TRUE(follow);
  const auto deadline = test::Clock::now() + 30s;
  std::string line;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(follow->ReadLine(&line, deadline)) << "summary and 3 events";
  auto db = *Database::OpenUri(uri_);
  auto store = std::move(*db->OpenStore("orders"));
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(store->Append("raw", std::vector<std::string>{"new-" + std::to_string(round)}).ok());
    ASSERT_TRUE(follow->ReadLine(&line, deadline)) << "no new event shown";
    EXPECT_EQ(ParseOrFail(line)["seq"], 4 + round) << line;
  }
  ::kill(follow->pid(), SIGTERM);
  EXPECT_EQ(follow->Wait(test::Clock::now() + 10s), 0);
}

TEST_F(CliEtcdTest, TrimDeleteAndDropRunnerChangeTheCluster) {
  Populate(uri_);
  Output refused = RunCli(With({"trim", "order-1", "--to", "3"}));  // no snapshot covers them
  EXPECT_EQ(refused.exit_code, 2) << refused.text();
  EXPECT_NE(refused.text().find("--force"), std::string::npos) << refused.text();
  Output trim = RunCli(With({"trim", "order-1", "--to", "3", "--force"}));
  ASSERT_EQ(trim.exit_code, 0) << trim.text();
  EXPECT_NE(trim.text().find("5 events kept"), std::string::npos) << trim.text();
  Output shown = RunCli(With({"show", "order-1"}));
  ASSERT_EQ(shown.lines.size(), 6u) << shown.text();
  EXPECT_EQ(ParseOrFail(shown.lines[1])["seq"], 4);
  Output trimmed = RunCli(With({"show", "order-1", "--from", "2"}));
  EXPECT_EQ(trimmed.exit_code, 1);
  EXPECT_NE(trimmed.text().find("--from 4"), std::string::npos) << trimmed.text();

  Output unconfirmed = RunCli(With({"delete", "raw"}));
  EXPECT_EQ(unconfirmed.exit_code, 2) << unconfirmed.text();
  Output del = RunCli(With({"delete", "raw", "--yes"}));
  ASSERT_EQ(del.exit_code, 0) << del.text();
  {
    auto db = *Database::OpenUri(Uri(name_, "linearizable=1"));
    auto store = std::move(*db->OpenStore("orders"));
    Result<WorkflowSummary> order = store->Describe("order-1");
    ASSERT_TRUE(order.ok()) << order.status().ToString();
    EXPECT_EQ(order->trimmed, 3u);
    EXPECT_EQ(order->events, 5u);
    EXPECT_FALSE(*store->Exists("raw"));

    // A workflow a running process owns (as a Runner does): writes to it
    // are refused in one line, and change nothing.
    ASSERT_TRUE(store->Claim("order-1").ok());
    for (std::vector<std::string> write : {std::vector<std::string>{"trim", "order-1", "--to", "5", "--force"},
                                           std::vector<std::string>{"delete", "order-1", "--yes"}}) {
      Output out = RunCli(With(write));
      EXPECT_EQ(out.exit_code, 1) << out.text();
      ASSERT_EQ(out.lines.size(), 1u) << out.text();
      EXPECT_NE(out.lines[0].find("NotOwner"), std::string::npos) << out.lines[0];
      EXPECT_NE(out.lines[0].find("stop the Runner"), std::string::npos) << out.lines[0];
    }
    EXPECT_EQ(store->Describe("order-1")->trimmed, 3u);
  }  // closed: the claim is given up

  EXPECT_EQ(RunCli({"drop-runner", "orders", "--store", uri_}).exit_code, 2);  // not confirmed
  Output drop = RunCli({"drop-runner", "orders", "--yes", "--store", uri_});
  ASSERT_EQ(drop.exit_code, 0) << drop.text();
  auto db = *Database::OpenUri(Uri(name_, "linearizable=1"));
  EXPECT_TRUE(db->ListRunners()->empty());
  // A database on etcd is its runners' tables: with none left it is gone.
  Output runners = RunCli({"runners", "--store", uri_});
  EXPECT_EQ(runners.exit_code, 1) << runners.text();
  EXPECT_NE(runners.text().find("no database"), std::string::npos) << runners.text();
}

TEST_F(CliEtcdTest, MigrateDiskToEtcdAndBackIsVerifiedAndResumable) {
  const std::string disk = "disk://" + dir_.Sub("db");
  std::vector<std::string> ids;
  {
    auto db = *Database::OpenUri(disk);
    auto orders = std::move(*db->OpenStore("orders")), billing = std::move(*db->OpenStore("billing"));
    ids = test::FillForCopy(*orders, 40);
    test::FillForCopy(*billing, 3);
  }

  // Killed after 10 workflows it reported copied; run again: it finishes.
  const std::string cmd =
      "exec " + Quote(RUNIC_CLI) + " migrate --verbose --from " + Quote(disk) + " --to " + Quote(uri_);
  auto first = test::ChildProcess::Start("/bin/sh", {"-c", cmd + " 2>/dev/null"});
  ASSERT_TRUE(first);
  std::string line;
  int copied = 0;
  while (copied < 10 && first->ReadLine(&line, test::Clock::now() + 60s)) copied += line.rfind("copied ", 0) == 0;
  ASSERT_EQ(copied, 10) << "the migration ended before 10 workflows";
  first->Kill();
  first->Wait(test::Clock::now() + 10s);

  Output to_etcd = RunCli({"migrate", "--from", disk, "--to", uri_});
  ASSERT_EQ(to_etcd.exit_code, 0) << to_etcd.text();
  EXPECT_NE(to_etcd.text().find("verified: 43 workflows"), std::string::npos) << to_etcd.text();
  EXPECT_NE(to_etcd.text().find("checksums match"), std::string::npos) << to_etcd.text();
  Output again = RunCli({"migrate", "--from", disk, "--to", uri_});
  EXPECT_NE(again.text().find("runner orders: 0 workflows copied, 40 already there"), std::string::npos)
      << again.text();

  // etcd to a new disk store, verified, and the same as the original.
  const std::string back = "disk://" + dir_.Sub("back");
  Output to_disk = RunCli({"migrate", "--from", uri_, "--to", back});
  ASSERT_EQ(to_disk.exit_code, 0) << to_disk.text();
  EXPECT_NE(to_disk.text().find("verified: 43 workflows"), std::string::npos) << to_disk.text();
  {
    auto a_db = *Database::OpenUri(disk), b_db = *Database::OpenUri(back);
    auto e_db = *Database::OpenUri(Uri(name_, "linearizable=1"));
    auto a = std::move(*a_db->OpenStore("orders")), b = std::move(*b_db->OpenStore("orders"));
    auto e = std::move(*e_db->OpenStore("orders"));
    for (const std::string& id : ids) {
      Result<WorkflowSummary> x = a->Describe(id);
      ASSERT_TRUE(x.ok());
      for (Store* copy : {e.get(), b.get()}) {
        Result<WorkflowSummary> y = copy->Describe(id);
        ASSERT_TRUE(y.ok()) << id << ": " << y.status().ToString();
        EXPECT_EQ(x->cursor, y->cursor) << id;
        EXPECT_EQ(x->trimmed, y->trimmed) << id;
        EXPECT_EQ(x->event_bytes, y->event_bytes) << id;
        EXPECT_EQ(x->updated_at, y->updated_at) << id;
        EXPECT_EQ(x->has_log, y->has_log) << id;
        EXPECT_EQ(x->snapshot_cursor, y->snapshot_cursor) << id;
        EXPECT_EQ(*copy->LoadFact("fact-" + id), "value of " + id);
      }
    }
    // Deleted from the source since: the next run removes it from etcd.
    ASSERT_TRUE(a->Delete(ids.front()).ok());
  }
  Output after_delete = RunCli({"migrate", "--from", disk, "--to", uri_});
  EXPECT_EQ(after_delete.exit_code, 0) << after_delete.text();
  EXPECT_NE(after_delete.text().find("1 removed"), std::string::npos) << after_delete.text();

  // Never into memory (it would vanish with the tool); from an empty
  // scratch store, nothing to copy.
  Output to_memory = RunCli({"migrate", "--from", uri_, "--to", "memory:copy"});
  EXPECT_EQ(to_memory.exit_code, 2) << to_memory.text();
  Output from_memory = RunCli({"migrate", "--from", "memory:", "--to", Uri(name_ + "-empty")});
  EXPECT_EQ(from_memory.exit_code, 0) << from_memory.text();
  EXPECT_NE(from_memory.text().find("verified: 0 workflows"), std::string::npos) << from_memory.text();

  Output same = RunCli({"migrate", "--from", uri_, "--to", uri_});
  EXPECT_EQ(same.exit_code, 2) << same.text();
  ASSERT_EQ(same.lines.size(), 1u) << same.text();
  EXPECT_NE(same.lines[0].find("the same database"), std::string::npos) << same.lines[0];
}

TEST_F(CliEtcdTest, BackupIsRefusedAndNamesTheWaysToCopyEtcd) {
  Populate(uri_);
  const std::string dest = dir_.Sub("backup");
  Output backup = RunCli(With({"backup", dest}));
  EXPECT_EQ(backup.exit_code, 1) << backup.text();
  ASSERT_EQ(backup.lines.size(), 1u) << backup.text();
  EXPECT_EQ(backup.lines[0].rfind("runic: store " + uri_ + ", runner orders: ", 0), 0u) << backup.lines[0];
  EXPECT_NE(backup.lines[0].find("runic migrate --from " + uri_ + " --to disk:///"), std::string::npos)
      << backup.lines[0];
  EXPECT_NE(backup.lines[0].find("etcdctl snapshot save"), std::string::npos) << backup.lines[0];
  EXPECT_FALSE(std::filesystem::exists(dest));
}

TEST_F(CliEtcdTest, RestoreWritesABackupIntoAnEmptyEtcdDatabase) {
  const std::string disk = "disk://" + dir_.Sub("db");
  {
    auto db = *Database::OpenUri(disk);
    auto orders = std::move(*db->OpenStore("orders"));
    test::FillForCopy(*orders, 12);
  }
  const std::string backup = dir_.Sub("backup");
  Output saved = RunCli({"backup", backup, "--store", disk});
  ASSERT_EQ(saved.exit_code, 0) << saved.text();

  // Run in the temporary directory, to see that it writes no file there.
  Output restore = RunCli({"restore", backup, "--store", uri_}, "--chdir=" + Quote(dir_.path()));
  ASSERT_EQ(restore.exit_code, 0) << restore.text();
  EXPECT_NE(restore.text().find("restored " + backup + " into etcd database '" + name_ + "'"), std::string::npos)
      << restore.text();
  EXPECT_NE(restore.text().find("verified: 12 workflows"), std::string::npos) << restore.text();
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub(name_))) << "restore made a directory named after the etcd database";
  Output ls = RunCli(With({"ls", "--json"}));
  ASSERT_EQ(ls.exit_code, 0) << ls.text();
  EXPECT_EQ(ParseOrFail(ls.text()).size(), 12u);

  // Not into a database that has runners.
  Output into_used = RunCli({"restore", backup, "--store", uri_});
  EXPECT_EQ(into_used.exit_code, 1) << into_used.text();
  ASSERT_EQ(into_used.lines.size(), 1u) << into_used.text();
  EXPECT_NE(into_used.lines[0].find("needs an empty database"), std::string::npos) << into_used.lines[0];
}

TEST_F(CliEtcdTest, BadAndUnreachableClustersAreOneLineErrors) {
  // Malformed URIs: bad usage, before any connection.
  for (const std::string bad : {"etcd://127.0.0.1", "etcd:127.0.0.1:2379", "etcd://127.0.0.1:1/x?bogus=1",
                                "etcd://127.0.0.1:1/x?timeout_ms=0", "etcd://127.0.0.1:1/x?sync=1"}) {
    Output out = RunCli({"ls", "--store", bad, "--runner", "orders"});
    EXPECT_EQ(out.exit_code, 2) << bad << ": " << out.text();
    ASSERT_EQ(out.lines.size(), 1u) << bad << ": " << out.text();
    EXPECT_EQ(out.lines[0].rfind("runic: store " + bad + ", runner orders: ", 0), 0u) << out.lines[0];
  }

  // Nobody listens on port 1: unavailable within the URI's deadline; the
  // password is not printed.
  const std::string unreachable = "etcd://127.0.0.1:1/x?user=u&password=sekrit&timeout_ms=500";
  for (const char* sub : {"runners", "ls", "stats", "trim"}) {
    std::vector<std::string> args{sub, "--store", unreachable, "--runner", "orders"};
    if (std::string(sub) == "trim") args.insert(args.end(), {"wf", "--to", "1"});
    const auto start = std::chrono::steady_clock::now();
    Output out = RunCli(args);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(out.exit_code, 1) << sub << ": " << out.text();
    ASSERT_EQ(out.lines.size(), 1u) << sub << ": " << out.text();
    EXPECT_EQ(out.lines[0].rfind("runic: store etcd://127.0.0.1:1/x?user=u&password=***&timeout_ms=500", 0), 0u)
        << out.lines[0];
    EXPECT_NE(out.lines[0].find("Unavailable"), std::string::npos) << out.lines[0];
    EXPECT_NE(out.lines[0].find("500 ms"), std::string::npos) << out.lines[0];
    EXPECT_EQ(out.lines[0].find("sekrit"), std::string::npos) << out.lines[0];
    EXPECT_LT(secs, 3.0) << sub;
  }
  Output migrate = RunCli({"migrate", "--from", unreachable, "--to", "disk://" + dir_.Sub("unreached")});
  EXPECT_EQ(migrate.exit_code, 1) << migrate.text();
  EXPECT_EQ(migrate.lines.size(), 1u) << migrate.text();
  EXPECT_EQ(migrate.text().find("sekrit"), std::string::npos) << migrate.text();

  // A database nobody made: found missing, not created, by reads and writes.
  Populate(uri_);
  const std::string missing = Uri(name_ + "-missing");
  for (std::vector<std::string> args : {std::vector<std::string>{"ls", "--runner", "orders"},
                                        std::vector<std::string>{"delete", "wf", "--yes", "--runner", "orders"}}) {
    args.insert(args.end(), {"--store", missing});
    Output out = RunCli(args);
    EXPECT_EQ(out.exit_code, 1) << out.text();
    ASSERT_EQ(out.lines.size(), 1u) << out.text();
    EXPECT_NE(out.lines[0].find("NotFound: no database"), std::string::npos) << out.lines[0];
  }
  auto db = *Database::OpenUri(Uri(name_ + "-missing", "linearizable=1"));
  EXPECT_TRUE(db->ListRunners()->empty()) << "a command created the database";

  // An unknown runner, and a write through a URI that says read_only=1.
  Output wrong_runner = RunCli({"ls", "--store", uri_, "--runner", "nope"});
  EXPECT_EQ(wrong_runner.exit_code, 2);
  EXPECT_NE(wrong_runner.text().find("runners here: orders"), std::string::npos) << wrong_runner.text();
  Output read_only =
      RunCli({"trim", "order-1", "--to", "1", "--runner", "orders", "--store", Uri(name_, "read_only=1")});
  EXPECT_EQ(read_only.exit_code, 2) << read_only.text();
  ASSERT_EQ(read_only.lines.size(), 1u) << read_only.text();
  EXPECT_NE(read_only.lines[0].find("read_only=1"), std::string::npos) << read_only.lines[0];
}

}  // namespace
}  // namespace runic
