// The workflows of the committed history test data (tests/data/), shared by
// the program that wrote it (make_history_data.cc) and the test that reads
// and resumes it (history_test.cc). Their structure must never change: the
// stored fingerprints name it. A new event format gets a new data file and
// keeps this one.
#ifndef RUNIC_TESTS_HISTORY_FIXTURE_H_
#define RUNIC_TESTS_HISTORY_FIXTURE_H_

#include <memory>
#include <string>
#include <thread>

#include "runic/workflow.h"

namespace runic::test {

// How the steps behave: as when the data was written (an order's charge
// fails on its first attempt, `slow` waits for its stop token) or when it
// is resumed (everything succeeds at once).
enum class FixtureMode { kWriting, kResuming };

// "orders" v1: validate -> charge (1 retry) -> ship; validate -> audit (a
// rule: big orders only); a join "receipt" of charge and ship.
inline std::shared_ptr<const Workflow> FixtureOrders(FixtureMode mode) {
  auto charge = [mode](const Value& v, const StepContext& c) -> Result<Value> {
    if (mode == FixtureMode::kWriting && v.value("fail_first", false) && c.attempt == 1) {
      return Status::Unavailable("card network down");
    }
    return Value{{"order", v["order"]}, {"charged", v["amount"]}};
  };
  return *Workflow::Builder("orders", 1)
              .Step("validate", [](const Value& v, std::stop_token) -> Result<Value> { return v; })
              .Step("charge", charge, "validate")
              .Step(
                  "ship",
                  [](const Value& v, std::stop_token) -> Result<Value> {
                    return Value{{"shipped", v["order"]}};
                  },
                  "charge")
              .Rule(
                  "audit", [](const Value& v) { return v.value("amount", 0) > 100; },
                  [](const Value& v, std::stop_token) -> Result<Value> {
                    return Value{{"audited", v["order"]}};
                  },
                  "validate")
              .Join("receipt", {"charge", "ship"},
                    [](const std::vector<Value>& in, std::stop_token) -> Result<Value> {
                      return Value{{"receipt", in[0]["order"]}};
                    })
              .Policy("charge", StepPolicy{.max_retries = 1, .base_delay = std::chrono::milliseconds(1)})
              .Build();
}

// "fragile" v1: two root steps. When writing, `fail` fails on inputs with
// "fail" (1 retry, then halt) and `slow` blocks on inputs with "block" until
// asked to stop.
inline std::shared_ptr<const Workflow> FixtureFragile(FixtureMode mode) {
  return *Workflow::Builder("fragile", 1)
              .Step("fail",
                    [mode](const Value& v, std::stop_token) -> Result<Value> {
                      if (mode == FixtureMode::kWriting && v.value("fail", false))
                        return Status::IOError("disk on fire");
                      return v;
                    })
              .Step("slow",
                    [mode](const Value& v, std::stop_token stop) -> Result<Value> {
                      while (mode == FixtureMode::kWriting && v.value("block", false) && !stop.stop_requested()) {
                        std::this_thread::sleep_for(std::chrono::milliseconds(1));
                      }
                      return v;
                    })
              .Policy("fail", StepPolicy{.max_retries = 1, .base_delay = std::chrono::milliseconds(1)})
              .Build();
}

// The workflows of the data: id -> what it shows.
//   "complete"    orders, two inputs (one big, one failing its first charge), all done
//   "snapshotted" orders with snapshot_every 4 and trimming: a snapshot, events trimmed
//   "halted"      fragile, input {"fail": true}: halted after 2 attempts
//   "stopped"     fragile, input {"block": true}: `slow` dispatched, not done
//                 (stopped while it ran)

}  // namespace runic::test

#endif  // RUNIC_TESTS_HISTORY_FIXTURE_H_
