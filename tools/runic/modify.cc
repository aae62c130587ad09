// trim, delete, drop-runner, gc: they write, so a disk store must not be held by
// another process (the Session says so in one line); on etcd, trim and
// delete of a workflow a running Runner owns are refused (kNotOwner). The
// destructive ones ask first.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "runic/gc.h"

namespace runic::cli {
namespace {

// Asks `question` on a terminal; without one, --yes is required.
void Confirm(const std::string& question, bool yes) {
  if (yes) return;
  if (::isatty(STDIN_FILENO) != 1) {
    throw Failure(question + " Not confirmed: stdin is not a terminal; pass --yes", kExitUsage);
  }
  std::printf("%s [y/N] ", question.c_str());
  std::fflush(stdout);
  std::string answer;
  std::getline(std::cin, answer);
  if (answer != "y" && answer != "Y" && answer != "yes") throw Failure("not confirmed: nothing changed", kExitUsage);
}

}  // namespace

int Trim(const Target& t, const std::string& id, std::uint64_t cursor, bool force) {
  Session session(t, Access::kWrite);
  Store& store = session.store();
  Result<WorkflowSummary> before = store.Describe(id);
  if (!before.ok()) session.Fail(before.status(), "workflow '" + id + "'");
  // The Runner resumes from the snapshot and the events after it: trimmed
  // events beyond the snapshot's cursor are a history it can never replay
  // (Corruption on resume). Events at or below what is trimmed already are
  // gone either way; above the counter, Store::Trim says what is wrong.
  const std::uint64_t covered = before->has_snapshot ? before->snapshot_cursor : 0;
  const std::uint64_t first = std::max(before->trimmed, covered) + 1, last = std::min(cursor, before->cursor);
  if (!force && first <= last) {
    const std::string events = first == last ? "event " + std::to_string(first)
                                             : "events " + std::to_string(first) + ".." + std::to_string(last);
    const std::string snapshot = before->has_snapshot
                                     ? "its snapshot (cursor " + std::to_string(before->snapshot_cursor) + ")"
                                     : "a snapshot (it has none)";
    throw Failure(t.Where() + ": " + events + " of workflow '" + id + "' " + (first == last ? "is" : "are") +
                      " not covered by " + snapshot + ": trimming " + (first == last ? "it" : "them") +
                      " would make it impossible to resume; use --force to trim anyway",
                  kExitUsage);
  }
  Status s = store.Trim(id, cursor);
  if (!s.ok()) session.Fail(s, "trimming '" + id + "' to " + std::to_string(cursor));
  Result<WorkflowSummary> w = store.Describe(id);
  if (!w.ok()) session.Fail(w.status(), "workflow '" + id + "'");
  std::printf("trimmed %s to %llu: %llu events kept (%llu to %llu)\n", id.c_str(),
              static_cast<unsigned long long>(cursor), static_cast<unsigned long long>(w->events),
              static_cast<unsigned long long>(w->trimmed + 1), static_cast<unsigned long long>(w->cursor));
  return kExitOk;
}

int Delete(const Target& t, const std::string& id, bool yes) {
  Session session(t, Access::kWrite);
  Store& store = session.store();
  Result<WorkflowSummary> w = store.Describe(id);
  if (!w.ok()) session.Fail(w.status(), "workflow '" + id + "'");
  Confirm("Delete workflow '" + id + "' (" + std::to_string(w->events) + " events" + (w->has_log ? ", a log" : "") +
              (w->has_snapshot ? ", a snapshot" : "") + ") from " + t.Where() + "?",
          yes);
  Status s = store.Delete(id);
  if (!s.ok()) session.Fail(s, "deleting '" + id + "'");
  std::printf("deleted %s (its facts are kept: they may be shared)\n", id.c_str());
  return kExitOk;
}

int DropRunner(const Target& t, const std::string& runner, bool yes) {
  Target where = t;
  where.runner = runner;
  Session session(where, Access::kWrite);
  Result<std::vector<std::string>> runners = session.db().ListRunners();
  if (!runners.ok()) session.Fail(runners.status(), "listing the runners");
  if (std::find(runners->begin(), runners->end(), runner) == runners->end()) {
    throw Failure(where.Where() + ": no such runner", kExitUsage);
  }
  Confirm("Drop runner '" + runner + "' and every table of it from store " + Shown(t.uri) + "?", yes);
  Status s = session.db().DropRunner(runner);
  if (!s.ok()) session.Fail(s, "dropping the runner");
  std::printf("dropped runner %s\n", runner.c_str());
  return kExitOk;
}

int Gc(const Target& t, const std::string& journal, std::size_t batch, std::size_t max_deletes) {
  Session session(t, Access::kWrite);
  FactSweepOptions options;
  options.journal_path = journal.empty() ? "runic-gc-" + t.runner + ".journal" : journal;
  options.batch = batch;
  options.max_deletes = max_deletes;
  Result<FactSweepReport> r = SweepFacts(session.store(), options);
  if (!r.ok()) session.Fail(r.status(), "sweeping the facts (journal " + options.journal_path + ")");
  std::printf(
      "swept %llu facts: %llu named by %llu workflows, %llu definition structures kept, %llu deleted, %llu put "
      "back (written again meanwhile), %llu recovered from a sweep cut short%s\n",
      static_cast<unsigned long long>(r->facts), static_cast<unsigned long long>(r->referenced),
      static_cast<unsigned long long>(r->workflows), static_cast<unsigned long long>(r->structures),
      static_cast<unsigned long long>(r->deleted), static_cast<unsigned long long>(r->restored),
      static_cast<unsigned long long>(r->recovered),
      r->complete ? "" : "; stopped at --max-deletes: run again to go on");
  return kExitOk;
}

}  // namespace runic::cli
