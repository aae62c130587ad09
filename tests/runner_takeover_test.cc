// Two Runner processes on one etcd cluster: workflow ownership, takeover and
// fencing across processes (issue 4, "Tests").
//
// runner_owner_helper (a separate executable, see its header) runs a chain
// s1 -> ... -> sN of slow steps, each adding 1, as workflow ID of runner
// "owner" on the cluster, with a short ownership lease (kLeaseTtl). A is the
// first owner; B is started with --wait on the same ID while A holds it, so
// it is refused (not-owner) until it can take the workflow over.
//
//   KilledOwnerIsTakenOverAfterItsLease: A is SIGKILLed just after a
//     checkpoint; B, refused while A's lease lives, resumes once it expired,
//     runs exactly the steps whose completion was not in the store (none that
//     A reported durable runs again) and finishes with the results of an
//     uninterrupted run under another id.
//   PausedOwnerIsFencedAfterTakeover: A is SIGSTOPped in the middle of a
//     step; B takes over after the lease and finishes; then A gets SIGCONT:
//     its next write (the step's checkpoint) is refused with not-owner, A
//     halts (exit 4), and the store is exactly as B left it (summary and
//     every event, read linearizably).
//   PausedOwnerWokenWhileTheNewOwnerRuns: as above, but A gets SIGCONT while
//     B is still running the workflow: A is refused, B is not disturbed, and
//     the store holds exactly the events B knows it committed.
// The taken-over workflow's events are streamed linearizably afterwards:
// contiguous from 1 to the counter; a new process resuming it finds it
// finished with the same results.
// Each wait is bounded; a failing test SIGKILLs every helper it started (the
// ChildProcess destructor), paused ones included.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "child_process.h"
#include "runic/runic.h"
#include "support/etcd_cluster.h"

#ifndef RUNIC_OWNER_HELPER
#error "RUNIC_OWNER_HELPER must name the runner_owner_helper executable"
#endif

namespace runic {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using test::ChildProcess;
using test::Clock;
using test::EtcdCluster;

constexpr milliseconds kLeaseTtl = 2000ms;
constexpr const char* kRunner = "owner";  // the helper's runner name

long Ms(Clock::duration d) { return static_cast<long>(std::chrono::duration_cast<milliseconds>(d).count()); }

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// A runner_owner_helper process and every line it printed, in order, with
// the time the test read it.
class Helper {
 public:
  Helper(std::string name, const std::string& uri, const std::string& id, int steps, milliseconds step,
         bool wait = false)
      : name_(std::move(name)) {
    std::vector<std::string> args = {uri, id, std::to_string(steps), std::to_string(step.count())};
    if (wait) args.push_back("--wait");
    process_ = ChildProcess::Start(RUNIC_OWNER_HELPER, args);
  }

  bool started() const { return process_ != nullptr; }
  pid_t pid() const { return process_->pid(); }
  const std::vector<std::string>& lines() const { return lines_; }
  std::size_t size() const { return lines_.size(); }

  // Reads the next line into lines(); false at the end of the output or at
  // the deadline.
  bool Next(Clock::time_point deadline) {
    std::string line;
    if (!process_->ReadLine(&line, deadline)) return false;
    lines_.push_back(std::move(line));
    return true;
  }

  // Reads until a line that starts with `prefix` (counting the lines read
  // before: they are in lines() too); its index, or nullopt at the end of
  // the output or at the deadline.
  std::optional<std::size_t> WaitFor(std::string_view prefix, Clock::time_point deadline) {
    while (Next(deadline)) {
      if (StartsWith(lines_.back(), prefix)) return lines_.size() - 1;
    }
    return std::nullopt;
  }

  // Reads what the process wrote so far (until `quiet` passes with nothing
  // new, at most a second in all).
  void Drain(milliseconds quiet = 20ms) {
    const auto limit = Clock::now() + 1s;
    while (Clock::now() < limit && Next(Clock::now() + quiet)) {
    }
  }

  // Reads the rest of the output, then reaps the process (SIGKILL at the
  // deadline); its wait status.
  int Finish(Clock::time_point deadline) {
    while (Next(deadline)) {
    }
    return process_->Wait(deadline);
  }

  void Signal(int sig) { ::kill(process_->pid(), sig); }

  // The lines from `from` on that start with `prefix`.
  std::vector<std::string> Matching(std::string_view prefix, std::size_t from = 0) const {
    std::vector<std::string> out;
    for (std::size_t i = from; i < lines_.size(); ++i) {
      if (StartsWith(lines_[i], prefix)) out.push_back(lines_[i]);
    }
    return out;
  }
  std::string Last(std::string_view prefix) const {
    std::vector<std::string> all = Matching(prefix);
    return all.empty() ? "" : all.back();
  }

  // For failure messages: the name and the lines from `from` on (a line
  // that repeats one of the two before it is folded: B's refusals).
  std::string Transcript(std::size_t from = 0) const {
    std::string out = name_ + ":";
    std::size_t folded = 0;
    auto flush = [&] {
      if (folded > 0) out += "\n  (" + std::to_string(folded) + " repeated lines)";
      folded = 0;
    };
    for (std::size_t i = from; i < lines_.size(); ++i) {
      if ((i >= from + 1 && lines_[i] == lines_[i - 1]) || (i >= from + 2 && lines_[i] == lines_[i - 2])) {
        ++folded;
        continue;
      }
      flush();
      out += "\n  " + lines_[i];
    }
    flush();
    return out;
  }

 private:
  std::string name_;
  std::unique_ptr<ChildProcess> process_;
  std::vector<std::string> lines_;
};

bool ExitedWith(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

// The step numbers of the "step K V" lines, in order.
std::vector<int> StepsRun(const Helper& h) {
  std::vector<int> steps;
  for (const std::string& l : h.Matching("step ")) steps.push_back(std::stoi(l.substr(5)));
  return steps;
}

// The highest K such that a "durable" line follows "step K" (up to line
// `until`): a checkpoint written after sK returned holds its completion (a
// step starts only once the checkpoint that dispatched it is durable, so
// with a chain every checkpoint after "step K" comes after sK completed).
int LastDurableStep(const Helper& h, std::size_t until) {
  int last_step = 0, durable = 0;
  for (std::size_t i = 0; i < until && i < h.size(); ++i) {
    const std::string& l = h.lines()[i];
    if (StartsWith(l, "step ")) last_step = std::stoi(l.substr(5));
    if (l == "durable") durable = last_step;
  }
  return durable;
}

// "resumed R C" -> {R, C}.
std::pair<int, int> ParseResumed(const std::string& line) {
  int r = -1, c = -1;
  std::sscanf(line.c_str(), "resumed %d %d", &r, &c);
  return {r, c};
}

// The results an uninterrupted run of the chain of `steps` gives.
std::string ExpectedResults(int steps) {
  Value object = Value::object();
  for (int k = 1; k <= steps; ++k) object["s" + std::to_string(k)] = Value::array({k});
  return "results " + object.dump();
}

// Whether process `pid` is stopped (state T in /proc/PID/stat).
bool IsStopped(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && (stat[paren + 2] == 'T' || stat[paren + 2] == 't');
}

// Waits for A's checkpoint after its first step (the next step is
// dispatched and starts), lets that step run for a while, and SIGSTOPs A in
// the middle of it: woken, it returns at once and A checkpoints it.
void PauseMidStep(Helper& a, int total_steps, milliseconds step) {
  std::optional<std::size_t> durable;
  const auto deadline = Clock::now() + 30s;
  while ((durable = a.WaitFor("durable", deadline))) {
    if (!a.Matching("step ").empty()) break;
  }
  ASSERT_TRUE(durable) << "A ended or stalled before the checkpoint of its first step\n" << a.Transcript();
  const std::size_t steps = a.Matching("step ").size();
  std::this_thread::sleep_for(step / 4);
  a.Signal(SIGSTOP);
  for (const auto limit = Clock::now() + 5s; !IsStopped(a.pid()) && Clock::now() < limit;) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(IsStopped(a.pid())) << "A did not stop";
  a.Drain();
  ASSERT_EQ(a.Matching("step ").size(), steps) << "A ended the step before it was paused\n" << a.Transcript();
  ASSERT_LT(steps, static_cast<std::size_t>(total_steps)) << "A paused after its last step\n" << a.Transcript();
}

struct StoredEvents {
  WorkflowSummary summary;
  std::vector<std::pair<std::uint64_t, std::string>> events;
};

// Everything the store holds for `id`, read linearizably; checks that the
// events are contiguous from 1 to the counter.
void ReadStored(Store* store, const std::string& id, StoredEvents* out) {
  Result<WorkflowSummary> summary = store->Describe(id);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  out->summary = *summary;
  Result<std::unique_ptr<EventIterator>> it = store->Stream(id);
  ASSERT_TRUE(it.ok()) << it.status().ToString();
  out->events.clear();
  for (; (*it)->Valid(); (*it)->Next()) out->events.emplace_back((*it)->sequence(), std::string((*it)->value()));
  ASSERT_TRUE((*it)->status().ok()) << (*it)->status().ToString();
  ASSERT_EQ(summary->trimmed, 0u);
  ASSERT_EQ(out->events.size(), summary->cursor) << "events of " << id << " are not 1 .. counter";
  for (std::size_t i = 0; i < out->events.size(); ++i) {
    ASSERT_EQ(out->events[i].first, i + 1) << "a gap or a duplicate in the events of " << id;
  }
}

void ExpectSameSummary(const WorkflowSummary& a, const WorkflowSummary& b) {
  EXPECT_EQ(a.cursor, b.cursor);
  EXPECT_EQ(a.trimmed, b.trimmed);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.event_bytes, b.event_bytes);
  EXPECT_EQ(a.has_log, b.has_log);
  EXPECT_EQ(a.log_bytes, b.log_bytes);
  EXPECT_EQ(a.has_snapshot, b.has_snapshot);
  EXPECT_EQ(a.snapshot_cursor, b.snapshot_cursor);
  EXPECT_EQ(a.snapshot_bytes, b.snapshot_bytes);
  EXPECT_TRUE(a.updated_at == b.updated_at) << "the workflow was written again";
}

class RunnerTakeover : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    cluster_ = EtcdCluster::Start({}, &error);
    ASSERT_NE(cluster_, nullptr) << error;
    uri_ = cluster_->Uri("lease_ttl_ms=" + std::to_string(kLeaseTtl.count()));
  }

  // The test's own view of the store: every read linearizable.
  Store* Reader() {
    if (!store_) {
      Result<std::shared_ptr<Database>> db = Database::OpenUri(cluster_->Uri("linearizable=1"));
      EXPECT_TRUE(db.ok()) << db.status().ToString();
      if (!db.ok()) return nullptr;
      db_ = *db;
      Result<std::unique_ptr<Store>> store = db_->OpenStore(kRunner);
      EXPECT_TRUE(store.ok()) << store.status().ToString();
      if (!store.ok()) return nullptr;
      store_ = std::move(*store);
    }
    return store_.get();
  }

  // A run of `id` to the end without --wait, in a new process: it resumes
  // what the store holds (nothing left to run) and reports the results.
  void CheckStoredResults(const std::string& id, int steps, milliseconds step, const std::string& expected) {
    Helper check("check", uri_, id, steps, step);
    ASSERT_TRUE(check.started());
    const int status = check.Finish(Clock::now() + 60s);
    ASSERT_TRUE(ExitedWith(status, 0)) << test::DescribeWait(status) << "\n" << check.Transcript();
    EXPECT_EQ(check.Last("resumed"), "resumed 0 " + std::to_string(steps)) << check.Transcript();
    EXPECT_TRUE(check.Matching("step ").empty()) << "a finished workflow ran steps again\n" << check.Transcript();
    EXPECT_EQ(check.Last("results"), expected) << check.Transcript();
  }

  // The reference: an uninterrupted run under id "ref"; its results line.
  // Started by the caller (it runs meanwhile), finished here.
  std::string FinishReference(Helper& ref, int steps) {
    const int status = ref.Finish(Clock::now() + 60s);
    EXPECT_TRUE(ExitedWith(status, 0)) << test::DescribeWait(status) << "\n" << ref.Transcript();
    EXPECT_EQ(ref.Last("finished"), "finished OK") << ref.Transcript();
    EXPECT_EQ(ref.Last("results"), ExpectedResults(steps)) << ref.Transcript();
    return ref.Last("results");
  }

  // The set-up of the SIGSTOP cases: the reference run started (it runs
  // meanwhile), A owning "wf", B started with --wait and refused at least
  // once, then A paused in the middle of a step (PauseMidStep). The helpers
  // are the caller's: they are killed when `out` goes.
  struct PausedOwner {
    std::optional<Helper> ref, a, b;
    Clock::time_point paused;
    std::size_t a_at_pause = 0;  // A's lines read when it was paused
  };
  void StartAndPauseOwner(int steps, milliseconds step, PausedOwner* out) {
    Helper& ref = out->ref.emplace("ref", uri_, "ref", steps, step);
    ASSERT_TRUE(ref.started());
    Helper& a = out->a.emplace("A", uri_, "wf", steps, step);
    ASSERT_TRUE(a.started());
    ASSERT_TRUE(a.WaitFor("started", Clock::now() + 30s)) << a.Transcript();
    Helper& b = out->b.emplace("B", uri_, "wf", steps, step, /*wait=*/true);
    ASSERT_TRUE(b.started());
    ASSERT_TRUE(b.WaitFor("not-owner", Clock::now() + 30s)) << b.Transcript();

    ASSERT_NO_FATAL_FAILURE(PauseMidStep(a, steps, step));
    out->paused = Clock::now();
    out->a_at_pause = a.size();
  }

  std::unique_ptr<EtcdCluster> cluster_;
  std::string uri_;
  std::shared_ptr<Database> db_;
  std::unique_ptr<Store> store_;
};

TEST_F(RunnerTakeover, KilledOwnerIsTakenOverAfterItsLease) {
  constexpr int kSteps = 16;  // A runs about 2.4 s: B is refused well before it ends
  constexpr milliseconds kStep = 150ms;

  Helper ref("ref", uri_, "ref", kSteps, kStep);
  ASSERT_TRUE(ref.started());
  Helper a("A", uri_, "wf", kSteps, kStep);
  ASSERT_TRUE(a.started());
  ASSERT_TRUE(a.WaitFor("started", Clock::now() + 30s)) << a.Transcript();

  // B asks while A holds the workflow: refused.
  Helper b("B", uri_, "wf", kSteps, kStep, /*wait=*/true);
  ASSERT_TRUE(b.started());
  ASSERT_TRUE(b.WaitFor("not-owner", Clock::now() + 30s)) << b.Transcript();
  ASSERT_TRUE(b.Matching("resumed").empty() && b.Matching("started").empty()) << b.Transcript();

  // A is killed just after the checkpoint that followed step 3 (or a later
  // one): the next step was dispatched and is running.
  std::optional<std::size_t> durable;
  const auto a_deadline = Clock::now() + 30s;
  while ((durable = a.WaitFor("durable", a_deadline))) {
    if (!StepsRun(a).empty() && StepsRun(a).back() >= 3) break;
  }
  ASSERT_TRUE(durable) << "A ended or stalled before the checkpoint of step 3\n" << a.Transcript();
  b.Drain();  // the not-owner lines B wrote before the kill
  const std::size_t b_before_kill = b.size();
  a.Signal(SIGKILL);
  const auto killed = Clock::now();
  const int a_status = a.Finish(killed + 10s);
  ASSERT_TRUE(WIFSIGNALED(a_status) && WTERMSIG(a_status) == SIGKILL) << test::DescribeWait(a_status);
  const int a_durable = LastDurableStep(a, a.size());
  const std::vector<int> a_steps = StepsRun(a);
  ASSERT_FALSE(a_steps.empty());
  ASSERT_LT(a_steps.back(), kSteps) << "A finished before it was killed\n" << a.Transcript();

  // B takes over once A's lease expired: refused until then.
  std::optional<std::size_t> resumed = b.WaitFor("resumed", killed + kLeaseTtl + 15s);
  ASSERT_TRUE(resumed) << b.Transcript();
  const auto took_over = Clock::now();
  EXPECT_GE(b.Matching("not-owner", b_before_kill).size(), 1u)
      << "B was not refused after the kill: A's lease was not holding the workflow\n"
      << b.Transcript();
  std::printf("A killed after step %d (durable: %d); B took over %ld ms after the kill, refused %zu times in all\n",
              a_steps.back(), a_durable, Ms(took_over - killed), b.Matching("not-owner").size());

  const auto [redispatched, completed] = ParseResumed(b.lines()[*resumed]);
  EXPECT_GE(completed, a_durable) << "B did not see a completion A had made durable";
  EXPECT_LE(completed, a_steps.back()) << "B found completions of steps A never ran";
  // The step dispatched before the kill (running then) is dispatched again.
  EXPECT_EQ(redispatched, 1) << b.Transcript();

  const int b_status = b.Finish(Clock::now() + 60s);
  ASSERT_TRUE(ExitedWith(b_status, 0)) << test::DescribeWait(b_status) << "\n" << b.Transcript();
  EXPECT_EQ(b.Last("finished"), "finished OK") << b.Transcript();
  // Exactly the steps whose completion the store did not hold ran in B:
  // none that A had made durable ran again.
  std::vector<int> expected_steps;
  for (int k = completed + 1; k <= kSteps; ++k) expected_steps.push_back(k);
  EXPECT_EQ(StepsRun(b), expected_steps) << b.Transcript();

  const std::string expected = FinishReference(ref, kSteps);
  EXPECT_EQ(b.Last("results"), expected) << b.Transcript();

  StoredEvents stored;
  ASSERT_NO_FATAL_FAILURE(ReadStored(Reader(), "wf", &stored));
  EXPECT_EQ("cursor " + std::to_string(stored.summary.cursor), b.Last("cursor")) << b.Transcript();
  CheckStoredResults("wf", kSteps, kStep, expected);
}

// A paused in a step until B took over and finished: A's checkpoint of that
// step is refused and the store stays as B left it.
TEST_F(RunnerTakeover, PausedOwnerIsFencedAfterTakeover) {
  constexpr int kSteps = 4;
  constexpr milliseconds kStep = 1500ms;

  PausedOwner p;
  ASSERT_NO_FATAL_FAILURE(StartAndPauseOwner(kSteps, kStep, &p));
  Helper &ref = *p.ref, &a = *p.a, &b = *p.b;
  const auto paused = p.paused;
  const std::size_t a_at_pause = p.a_at_pause;
  const int paused_in = StepsRun(a).back() + 1;
  ASSERT_LE(paused_in, kSteps) << a.Transcript();

  std::optional<std::size_t> resumed = b.WaitFor("resumed", paused + kLeaseTtl + 15s);
  ASSERT_TRUE(resumed) << b.Transcript();
  const auto took_over = Clock::now();
  const auto [redispatched, completed] = ParseResumed(b.lines()[*resumed]);
  EXPECT_EQ(completed, paused_in - 1) << b.Transcript();
  EXPECT_EQ(redispatched, 1) << b.Transcript();
  const int b_status = b.Finish(Clock::now() + 60s);
  ASSERT_TRUE(ExitedWith(b_status, 0)) << test::DescribeWait(b_status) << "\n" << b.Transcript();
  EXPECT_EQ(b.Last("finished"), "finished OK") << b.Transcript();
  std::printf("A paused in step %d; B took over %ld ms later and finished %ld ms after that\n", paused_in,
              Ms(took_over - paused), Ms(Clock::now() - took_over));

  // The store as B left it.
  StoredEvents before;
  ASSERT_NO_FATAL_FAILURE(ReadStored(Reader(), "wf", &before));
  EXPECT_EQ("cursor " + std::to_string(before.summary.cursor), b.Last("cursor")) << b.Transcript();

  // A wakes up, ends its step and tries to checkpoint it.
  a.Signal(SIGCONT);
  const int a_status = a.Finish(Clock::now() + 60s);
  EXPECT_TRUE(ExitedWith(a_status, 4)) << test::DescribeWait(a_status) << "\n" << a.Transcript();
  EXPECT_TRUE(StartsWith(a.Last("finished"), "finished NotOwner")) << a.Transcript();
  EXPECT_EQ(a.Matching("step ", a_at_pause).size(), 1u) << "A should end the step it was paused in\n" << a.Transcript();
  EXPECT_FALSE(a.Matching("store-error append", a_at_pause).empty()) << "A's checkpoint was not refused\n"
                                                                     << a.Transcript();
  for (const std::string& l : a.Matching("store-error", a_at_pause)) {
    EXPECT_NE(l.find("NotOwner"), std::string::npos) << l;
  }
  EXPECT_TRUE(a.Matching("durable", a_at_pause).empty()) << "A wrote after it was paused\n" << a.Transcript();
  std::printf("after SIGCONT, %s\n", a.Transcript(a_at_pause).c_str());

  StoredEvents after;
  ASSERT_NO_FATAL_FAILURE(ReadStored(Reader(), "wf", &after));
  ExpectSameSummary(before.summary, after.summary);
  EXPECT_TRUE(before.events == after.events) << "the events changed after A woke up";

  const std::string expected = FinishReference(ref, kSteps);
  EXPECT_EQ(b.Last("results"), expected) << b.Transcript();
  CheckStoredResults("wf", kSteps, kStep, expected);
  // Resuming a finished workflow reads it and writes nothing.
  StoredEvents checked;
  ASSERT_NO_FATAL_FAILURE(ReadStored(Reader(), "wf", &checked));
  ExpectSameSummary(after.summary, checked.summary);
}

// A paused in a step and woken while B runs the workflow: A is refused and
// B goes on undisturbed.
TEST_F(RunnerTakeover, PausedOwnerWokenWhileTheNewOwnerRuns) {
  constexpr int kSteps = 4;
  constexpr milliseconds kStep = 1500ms;

  PausedOwner p;
  ASSERT_NO_FATAL_FAILURE(StartAndPauseOwner(kSteps, kStep, &p));
  Helper &ref = *p.ref, &a = *p.a, &b = *p.b;
  const auto paused = p.paused;
  const std::size_t a_at_pause = p.a_at_pause;

  const std::optional<std::size_t> b_resumed = b.WaitFor("resumed", paused + kLeaseTtl + 15s);
  ASSERT_TRUE(b_resumed) << b.Transcript();
  const auto b_took_over = Clock::now();
  // A wakes up while B runs the step A was paused in (B's first step takes
  // kStep): A's checkpoint of it meets B's ownership.
  a.Signal(SIGCONT);
  const auto woke = Clock::now();
  ASSERT_TRUE(a.WaitFor("store-error append", woke + 30s)) << "A's checkpoint was not refused\n" << a.Transcript();
  const auto refused = Clock::now();
  b.Drain();
  EXPECT_TRUE(b.Matching("finished").empty())
      << "B finished before A's write was refused: the test did not overlap them\n"
      << b.Transcript();
  const int a_status = a.Finish(Clock::now() + 60s);
  EXPECT_TRUE(ExitedWith(a_status, 4)) << test::DescribeWait(a_status) << "\n" << a.Transcript();
  EXPECT_TRUE(StartsWith(a.Last("finished"), "finished NotOwner")) << a.Transcript();
  for (const std::string& l : a.Matching("store-error", a_at_pause)) {
    EXPECT_NE(l.find("NotOwner"), std::string::npos) << l;
  }
  EXPECT_TRUE(a.Matching("durable", a_at_pause).empty()) << "A wrote after it was paused\n" << a.Transcript();

  const int b_status = b.Finish(Clock::now() + 60s);
  ASSERT_TRUE(ExitedWith(b_status, 0)) << test::DescribeWait(b_status) << "\n" << b.Transcript();
  EXPECT_EQ(b.Last("finished"), "finished OK") << b.Transcript();
  // Once B owned the workflow, none of its store calls failed.
  EXPECT_TRUE(b.Matching("store-error", *b_resumed).empty()) << b.Transcript();
  std::printf("A woke up %ld ms after B took over and was refused %ld ms later; %s\n", Ms(woke - b_took_over),
              Ms(refused - woke), a.Transcript(a_at_pause).c_str());

  // B appends with the cursor it expects, so an event of A's before B's last
  // append would have failed B; one after it would be past B's cursor.
  StoredEvents stored;
  ASSERT_NO_FATAL_FAILURE(ReadStored(Reader(), "wf", &stored));
  EXPECT_EQ("cursor " + std::to_string(stored.summary.cursor), b.Last("cursor")) << b.Transcript();

  const std::string expected = FinishReference(ref, kSteps);
  EXPECT_EQ(b.Last("results"), expected) << b.Transcript();
  CheckStoredResults("wf", kSteps, kStep, expected);
}

}  // namespace
}  // namespace runic
