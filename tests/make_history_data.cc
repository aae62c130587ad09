// Writes tests/data/history_v<N>.txt: the stored histories of the fixture's
// workflows (history_fixture.h) as the Runner of this build writes them. Run
// it once when the event format changes, and commit its output as a new
// file beside the old ones: history_test resumes every one of them.
//
//   build/tests/make_history_data tests/data/history_v2.txt
#include <cstdio>
#include <fstream>
#include <thread>

#include "history_data.h"
#include "history_fixture.h"
#include "runic/runic.h"

namespace {

using runic::Status;
using runic::test::FixtureMode;

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "make_history_data: %s: %s\n", what.c_str(), s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_history_data OUTPUT\n");
    return 2;
  }
  runic::DatabaseOptions o;
  o.disc_copies = false;
  o.dir = "make-history-data";
  auto db = runic::Database::Open(o);
  if (!db.ok()) return Fail("open", db.status());
  auto store = (*db)->OpenStore("history");
  if (!store.ok()) return Fail("open store", store.status());
  runic::RunnerOptions ro;
  ro.store = store->get();
  ro.threads = 2;
  auto runner = runic::Runner::Create(std::move(ro));
  if (!runner.ok()) return Fail("runner", runner.status());
  runic::Runner& r = **runner;
  auto orders = runic::test::FixtureOrders(FixtureMode::kWriting);
  auto fragile = runic::test::FixtureFragile(FixtureMode::kWriting);
  using namespace std::chrono_literals;

  runic::WorkflowOptions snapshotting;
  snapshotting.snapshot_every = 4;
  snapshotting.trim_after_snapshot = true;
  struct Start {
    const char* id;
    std::shared_ptr<const runic::Workflow> workflow;
    std::optional<runic::WorkflowOptions> options;
    runic::Value input;
    std::vector<runic::Value> more;
  };
  const std::vector<Start> starts = {
      {"complete",
       orders,
       std::nullopt,
       {{"order", "A-1"}, {"amount", 250}},
       {{{"order", "A-2"}, {"amount", 10}, {"fail_first", true}}}},
      {"snapshotted", orders, snapshotting, {{"order", "S-1"}, {"amount", 500}}, {{{"order", "S-2"}, {"amount", 20}}}},
      {"halted", fragile, std::nullopt, {{"fail", true}}, {}},
  };
  for (const Start& s : starts) {
    runic::StartOptions start;
    start.input = s.input;
    start.idempotency_key = std::string("start-") + s.id;
    if (Status st = r.StartWorkflow(s.id, s.workflow, s.options, start); !st.ok()) return Fail(s.id, st);
    if (Status st = r.AwaitIdle(s.id, 10s); !st.ok()) return Fail(s.id, st);
    int n = 0;
    for (const runic::Value& v : s.more) {
      if (Status st = r.Run(s.id, v, "input-" + std::to_string(++n)); !st.ok()) return Fail(s.id, st);
      if (Status st = r.AwaitIdle(s.id, 10s); !st.ok()) return Fail(s.id, st);
    }
  }
  runic::StartOptions block;
  block.input = runic::Value{{"block", true}};
  if (Status st = r.StartWorkflow("stopped", fragile, std::nullopt, block); !st.ok()) return Fail("stopped", st);
  std::this_thread::sleep_for(300ms);  // `slow` runs (its dispatch is written before it starts)
  if (Status st = r.Stop("stopped"); !st.ok()) return Fail("stop", st);
  r.Shutdown();

  auto text = runic::test::DumpStore(**store);
  if (!text.ok()) return Fail("dump", text.status());
  std::ofstream(argv[1]) << *text;
  std::printf("wrote %s\n", argv[1]);
  return 0;
}
