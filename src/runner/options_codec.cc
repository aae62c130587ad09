#include "runner/options_codec.h"

#include <array>
#include <string_view>
#include <type_traits>
#include <utility>

namespace runic::internal {

namespace {

constexpr std::array<std::pair<CheckpointStrategy, std::string_view>, 4> kStrategies{{
    {CheckpointStrategy::kEveryCycle, "every_cycle"},
    {CheckpointStrategy::kOnComplete, "on_complete"},
    {CheckpointStrategy::kEveryN, "every_n"},
    {CheckpointStrategy::kManual, "manual"},
}};

}  // namespace

Value WorkflowOptionsToValue(const WorkflowOptions& options) {
  std::string_view strategy;
  for (const auto& [s, name] : kStrategies) {
    if (s == options.checkpoint) strategy = name;
  }
  return Value{{"checkpoint", strategy},
               {"checkpoint_every", options.checkpoint_every},
               {"max_concurrency", options.max_concurrency},
               {"snapshot_every", options.snapshot_every},
               {"trim_after_snapshot", options.trim_after_snapshot}};
}

Result<WorkflowOptions> WorkflowOptionsFromValue(const Value& value) {
  if (!value.is_object()) return Status::Corruption("its recorded options are not a map");
  WorkflowOptions options;
  auto unsigned_field = [&](const char* name, auto* out) -> Status {
    auto it = value.find(name);
    if (it == value.end() || !it->is_number_unsigned()) {
      return Status::Corruption(std::string("its recorded option '") + name + "' is missing or not a count");
    }
    *out = it->get<std::remove_pointer_t<decltype(out)>>();
    return Status::OK();
  };
  if (Status s = unsigned_field("checkpoint_every", &options.checkpoint_every); !s.ok()) return s;
  if (Status s = unsigned_field("max_concurrency", &options.max_concurrency); !s.ok()) return s;
  if (Status s = unsigned_field("snapshot_every", &options.snapshot_every); !s.ok()) return s;
  auto trim = value.find("trim_after_snapshot");
  if (trim == value.end() || !trim->is_boolean()) {
    return Status::Corruption("its recorded option 'trim_after_snapshot' is missing or not a boolean");
  }
  options.trim_after_snapshot = trim->get<bool>();
  auto strategy = value.find("checkpoint");
  if (strategy == value.end() || !strategy->is_string()) {
    return Status::Corruption("its recorded option 'checkpoint' is missing or not a name");
  }
  for (const auto& [s, name] : kStrategies) {
    if (strategy->get<std::string>() == name) {
      options.checkpoint = s;
      return options;
    }
  }
  return Status::Corruption("its recorded checkpoint strategy '" + strategy->get<std::string>() + "' is unknown");
}

}  // namespace runic::internal
