// Running the `runic` binary from tests (cli_test, cli_etcd_test): a child
// process through sh, its output collected, and stores to copy.
#ifndef RUNIC_TESTS_CLI_UTIL_H_
#define RUNIC_TESTS_CLI_UTIL_H_

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "child_process.h"
#include "runic/runic.h"

#ifndef RUNIC_CLI
#error "RUNIC_CLI must name the runic binary"
#endif

namespace runic::test {

struct Output {
  int exit_code = -1;
  std::vector<std::string> lines;  // stdout and stderr, interleaved
  std::string text() const {
    std::string all;
    for (const std::string& l : lines) all += l + "\n";
    return all;
  }
};

inline std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `runic ARGS` (through sh, for 2>&1 and the environment), to its end.
inline Output RunCli(const std::vector<std::string>& args, const std::string& env = "") {
  std::string cmd = "exec env -u RUNIC_STORE -u RUNIC_RUNNER -u RUNIC_DIR " + env + " " + Quote(RUNIC_CLI);
  for (const std::string& a : args) cmd += " " + Quote(a);
  cmd += " 2>&1 </dev/null";
  auto child = ChildProcess::Start("/bin/sh", {"-c", cmd});
  Output out;
  if (!child) return out;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  std::string line;
  while (child->ReadLine(&line, deadline)) out.lines.push_back(line);
  const int status = child->Wait(deadline);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

inline nlohmann::json ParseOrFail(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << text;
  return j;
}

inline StepFn AddOne() {
  return [](const Value& v, std::stop_token) -> Result<Value> { return Value(v.get<int>() + 1); };
}

// Writes into `store` (runner "orders") what both CLI tests read: a Runner's
// workflow "order-1" (3 steps, 8 events), raw events that are not in the
// Runner's format ("raw"), a log-only workflow ("log-only").
inline void FillOrders(Store& store) {
  using namespace std::chrono_literals;
  RunnerOptions ro;
  ro.name = "orders";
  ro.store = &store;
  auto runner = std::move(*Runner::Create(ro));
  auto wf =
      *Workflow::Builder("chain", 1).Step("a", AddOne()).Step("b", AddOne(), "a").Step("c", AddOne(), "b").Build();
  ASSERT_TRUE(runner->StartWorkflow("order-1", wf).ok());
  ASSERT_TRUE(runner->Run("order-1", 40).ok());
  ASSERT_TRUE(runner->AwaitIdle("order-1", 20s).ok());
  runner.reset();
  ASSERT_TRUE(store.Append("raw", std::vector<std::string>{std::string("\x01\x02\xff garbage", 11), "e2", "e3"}).ok());
  ASSERT_TRUE(store.Save("log-only", "hello").ok());
}

// Fills `store` with workflows of every shape: events, a trim, a snapshot,
// a log, facts. Returns their ids.
inline std::vector<std::string> FillForCopy(Store& store, int workflows) {
  std::vector<std::string> ids;
  for (int i = 0; i < workflows; ++i) {
    const std::string id = "wf-" + std::to_string(1000 + i);
    ids.push_back(id);
    std::vector<std::string> events;
    for (int e = 0; e < 1 + i % 7; ++e) events.push_back(id + "/event-" + std::to_string(e));
    const std::string hash = "fact-" + id, value = "value of " + id;  // the views below point here
    AppendOptions with_fact;
    with_fact.facts = {{hash, value}};
    // Index entries and inboxes too: pending, consumed, closed.
    const std::string tag = i % 2 == 0 ? "idle/copy@1" : "halted/copy@1";
    with_fact.state_tag = tag;
    if (i % 6 == 0) with_fact.due = 1000 + i;
    EXPECT_TRUE(store.Append(id, events, with_fact).ok());
    for (int n = 0; n < i % 4; ++n) EXPECT_TRUE(store.AppendInbox(id, id + "/signal-" + std::to_string(n)).ok());
    if (i % 4 == 3 || i % 8 == 1) {
      AppendOptions consume;
      consume.consume_inbox_through = 1;
      consume.close_inbox = i % 8 == 1;
      EXPECT_TRUE(store.Append(id, std::vector<std::string>{id + "/consumed"}, consume).ok());
    }
    if (i % 3 == 0) {
      EXPECT_TRUE(store.Save(id, "log of " + id).ok());
    }
    if (i % 4 == 0) {
      EXPECT_TRUE(store.SaveSnapshot(id, 1, "snapshot of " + id).ok());
    }
    if (i % 5 == 0 && events.size() > 2) {
      EXPECT_TRUE(store.Trim(id, 2).ok());
    }
  }
  return ids;
}

}  // namespace runic::test

#endif  // RUNIC_TESTS_CLI_UTIL_H_
