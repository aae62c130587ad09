// The fact sweep (SEMANTICS.md 4, "Retention"): removes from a Runner's
// store the facts that no remaining workflow names. Retention
// (RunnerOptions::retention) and Store::Delete remove workflows but keep
// their facts, since facts are content-addressed and may be shared; this
// sweep is how their space comes back.
#ifndef RUNIC_INCLUDE_RUNIC_GC_H_
#define RUNIC_INCLUDE_RUNIC_GC_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "runic/export.h"
#include "runic/status.h"
#include "runic/store.h"

namespace runic {

struct FactSweepOptions {
  // A file where the sweep keeps the facts it deletes (hash and value,
  // synced before the delete) until it has checked that no event appended
  // meanwhile names them. Required. A sweep that finds the file (one cut
  // short, by a crash or a kill) first puts back what its events need, then
  // sweeps. Removed when the sweep ends.
  std::string journal_path;
  // Facts deleted per batch: each batch is journalled, deleted and checked
  // before the next. 1 .. 100,000; default 1,000.
  std::size_t batch = 1000;
  // Stops once this many facts are deleted (run again to go on); 0: no
  // limit.
  std::size_t max_deletes = 0;
};

struct FactSweepReport {
  std::uint64_t workflows = 0;   // histories read to find what they name
  std::uint64_t facts = 0;       // facts in the table when it was listed
  std::uint64_t referenced = 0;  // of them, named by a workflow
  // Of the others, definitions' structures: kept (a runner stores each
  // once, and starts of its definition do not write it again).
  std::uint64_t structures = 0;
  std::uint64_t deleted = 0;  // removed (net of those put back)
  // Deleted, then found named by an event appended during the sweep (a
  // writer produced the same value again), and put back.
  std::uint64_t restored = 0;
  // Put back from the journal of a sweep that was cut short.
  std::uint64_t recovered = 0;
  bool complete = true;  // false: stopped at max_deletes
};

// Sweeps the facts of `store` (one runner's tables) that none of its
// workflows names (their inputs, produced values and signal values), except
// definitions' structures, which it keeps. It may run beside writers (Runners on the same
// store): a fact named by an event appended before the sweep returns is in
// the store when it returns. A reader that loads such a fact while the
// sweep has it deleted (between a batch's delete and its check, a few
// store round trips) may see it missing once; it is there again when the
// sweep returns.
//
// For a Runner's store only: every workflow must be a Runner history (a
// workflow whose events do not decode stops the sweep with kCorruption
// before anything is deleted: what it names cannot be known). Memory: the
// hashes of every named fact at once. Errors: kInvalidArgument for bad
// options (nothing read), kCorruption for a damaged journal (nothing
// deleted; the file is left for inspection), the store's errors otherwise
// (a batch whose check did not finish stays in the journal: the next sweep
// finishes it). Thread-safe; run one sweep of a store at a time.
RUNIC_EXPORT Result<FactSweepReport> SweepFacts(Store& store, const FactSweepOptions& options);

}  // namespace runic

#endif  // RUNIC_INCLUDE_RUNIC_GC_H_
