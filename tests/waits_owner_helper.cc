// waits_owner_helper: runner A of runner_waits_takeover_test, on etcd.
//
//   waits_owner_helper URI W
//
// Opens the database URI names and runner "payments"' store, registers the
// definition "payment" v1 (an Await of "payment", then the step "charge",
// which prints "charged ID" before it returns), starts workflows p-1 ..
// p-W (input: their number; key "start"), and prints "started" once each
// waits at its await. Then it runs until it is killed (at most 2 minutes).
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "helper_output.h"
#include "runic/runic.h"

namespace {

using runic::Result;
using runic::Status;
using runic::Value;
using runic::test::Say;

int Fail(const std::string& what, const Status& s) { return runic::test::Fail("waits_owner_helper", what, s); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    runic::test::WriteAll(STDERR_FILENO, "usage: waits_owner_helper URI W\n");
    return 2;
  }
  const std::string uri = argv[1];
  const int w = std::atoi(argv[2]);
  Result<std::shared_ptr<runic::Database>> db = runic::Database::OpenUri(uri);
  if (!db.ok()) return Fail("open " + uri, db.status());
  Result<std::unique_ptr<runic::Store>> store = (*db)->OpenStore("payments");
  if (!store.ok()) return Fail("store", store.status());
  runic::RunnerOptions options;
  options.name = "A";
  options.store = store->get();
  options.threads = 2;
  Result<std::unique_ptr<runic::Runner>> runner = runic::Runner::Create(std::move(options));
  if (!runner.ok()) return Fail("runner", runner.status());
  auto wf = runic::Workflow::Builder("payment", 1)
                .Await("pay", "payment")
                .Step(
                    "charge",
                    [](const Value& v, std::stop_token) -> Result<Value> {
                      Say("charged p-" + std::to_string(v["input"].get<int>()));
                      return v["signal"];
                    },
                    "pay")
                .Build();
  if (!wf.ok()) return Fail("definition", wf.status());
  for (int i = 1; i <= w; ++i) {
    runic::StartOptions start;
    start.input = i;
    start.idempotency_key = "start";
    if (Status s = (*runner)->StartWorkflow("p-" + std::to_string(i), *wf, std::nullopt, start); !s.ok()) {
      return Fail("start p-" + std::to_string(i), s);
    }
  }
  for (int i = 1; i <= w; ++i) {
    for (int k = 0; k < 10000; ++k) {
      Result<runic::WorkflowInfo> info = (*runner)->Lookup("p-" + std::to_string(i));
      if (info.ok() && info->state == runic::WorkflowState::kWaiting) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  Say("started");
  std::this_thread::sleep_for(std::chrono::minutes(2));
  return 0;
}
