// The Runner workloads of ../shared/design/WORKLOADS.md (R1..R3): workflows
// run by a runic::Runner on a Runic store ("memory", "disk") or on none
// ("none": no store, nothing checkpointed).
//
//   R1  workflows x a chain of 10 steps (x -> x + 1), checkpoint every cycle
//   R2  workflows x a root fanning out to 8 steps joined by one join
//   R3  R1 in a child process killed (SIGKILL) once half of the steps ran,
//       then resumed here: time to ResumeAll and finish, and the count of
//       steps whose persisted completion ran again (must be 0)
//   R4  workflows x 10 each waiting 1 s of real time (a Delay), then a step
//       (runner_waits.cc)
//   R5  workflows x 10 at an Await, signalled from 4 threads (runner_waits.cc)
//   R6  1,000,000 workflows waiting on a far timer, 100 halted, resumed by
//       a new process: its RSS, ResumeAll's time, listing the halted ones
//       (runner_r6.cc)
//
// R3's count: every step execution appends "<process> <input>" to a journal
// with one write(2) before the step returns (an input names its workflow and
// step). Right after ResumeAll, while the resumed steps wait at a gate (not
// timed), GetResults of each resumed workflow is what the store holds as
// completed before the kill; a workflow ResumeAll skipped must be complete.
// A step the store holds as completed must appear once in the journal.
//
// Every workflow is started first, then all are awaited (AwaitIdle): they
// run side by side on the Runner's default pool (one thread per core).
#ifndef RUNIC_BENCH_RUNNER_WORKLOADS_H_
#define RUNIC_BENCH_RUNNER_WORKLOADS_H_

#include <string>

#include "workloads.h"

namespace bench {

// True for the engines a Runner can use: "none", "memory", "disk", "etcd"
// (R1, R2, R4, R5 at a tenth of the scale).
bool RunnerEngine(const std::string& engine);

// Runs Runner workload R1, R2 or R3 once on a fresh store for engine/mode in
// `dir` (removed afterwards). Throws BenchError on failure, including a
// wrong result or, in R3, a persisted step that ran again.
Row RunRunnerWorkload(const std::string& engine, const std::string& mode, const std::string& workload,
                      const Scale& scale, const std::string& dir);

// R1's store floor, engine "rocksdb-raw": the RocksDB writes R1 needs on the
// disk engine, made directly from one thread (see r1_floor.cc).
Row RunR1Floor(const std::string& mode, const Scale& scale, const std::string& dir);

// The R3 child, run as "runic_bench --child-runner MODE DIR WORKFLOWS
// KILL_AFTER JOURNAL": starts WORKFLOWS R1 workflows on the disk store in
// DIR, journals every step execution to JOURNAL with write(2), reports
// "half" on stdout after KILL_AFTER step executions, and runs on until it
// is killed.
int ChildRunnerMain(int argc, char** argv);

}  // namespace bench

#endif  // RUNIC_BENCH_RUNNER_WORKLOADS_H_
