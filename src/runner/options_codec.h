// How WorkflowOptions are recorded in a workflow's started event and its
// snapshots, so that a resumed workflow runs with the options it was
// started with (SEMANTICS.md 4, "Unloading": a workflow reloaded by any
// runner behaves as before).
//
// The value is a map of option names to values, the checkpoint strategy by
// name: {"checkpoint": "every_cycle", "checkpoint_every": 10,
// "max_concurrency": 8, "snapshot_every": 0, "trim_after_snapshot": false}.
#ifndef RUNIC_SRC_RUNNER_OPTIONS_CODEC_H_
#define RUNIC_SRC_RUNNER_OPTIONS_CODEC_H_

#include "runic/result.h"
#include "runic/runner.h"
#include "runic/workflow.h"

namespace runic::internal {

Value WorkflowOptionsToValue(const WorkflowOptions& options);

// kCorruption naming what is wrong when `value` is not such a map (a
// missing field, a wrong type, an unknown strategy). Fields it does not
// know are ignored: a later release may record more.
Result<WorkflowOptions> WorkflowOptionsFromValue(const Value& value);

}  // namespace runic::internal

#endif  // RUNIC_SRC_RUNNER_OPTIONS_CODEC_H_
