#include "store/engine.h"

#include <chrono>
#include <string>

namespace runic {

EventIterator::~EventIterator() = default;
InboxWatch::~InboxWatch() = default;

namespace internal {

StoreLimits EmbeddedLimits() {
  StoreLimits limits;
  limits.max_runner_name_bytes = 128;
  limits.max_id_bytes = 512;
  limits.max_value_bytes = std::size_t{1} << 20;
  limits.max_batch_events = 1000;
  limits.max_batch_bytes = std::size_t{1} << 20;
  SetWaitLimits(&limits);
  return limits;
}

std::vector<Result<std::uint64_t>> RunnerTables::AppendMany(std::span<const AppendInput> inputs) {
  std::vector<Result<std::uint64_t>> results;
  results.reserve(inputs.size());
  for (const AppendInput& in : inputs) results.push_back(Append(in));
  return results;
}

void SetWaitLimits(StoreLimits* limits) {
  limits->max_state_tag_bytes = 256;
  limits->max_inbox_entries = 1000;
  // As etcd counts them (operations of one transaction): a moved index
  // entry deletes one key and puts another; a consumption puts the cursor
  // and deletes the consumed range; closing puts the flag.
  limits->state_tag_cost = 2;
  limits->due_cost = 2;
  limits->inbox_consume_cost = 2;
  limits->inbox_close_cost = 1;
}

std::size_t ExtraEntries(const StoreLimits& limits, const AppendOptions& options) {
  return (options.state_tag ? limits.state_tag_cost : 0) + (options.due ? limits.due_cost : 0) +
         (options.consume_inbox_through != 0 ? limits.inbox_consume_cost : 0) +
         (options.close_inbox ? limits.inbox_close_cost : 0);
}

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t ToMicros(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::microseconds>(t.time_since_epoch()).count();
}

Status NoInbox(std::string_view id) {
  return Status::NotFound("workflow '" + std::string(id) + "' has no events: no inbox to append to");
}

Status InboxClosed(std::string_view id) {
  return Status::FailedPrecondition("the inbox of workflow '" + std::string(id) + "' is closed");
}

Status InboxFull(std::string_view id, std::uint64_t limit) {
  return Status::ResourceExhausted("the inbox of workflow '" + std::string(id) + "' holds " + std::to_string(limit) +
                                   " unconsumed entries, its limit");
}

Status DeleteConflict(std::string_view id, const DeleteOptions& options, std::uint64_t cursor,
                      std::uint64_t inbox_last) {
  if (options.expected_cursor && *options.expected_cursor != cursor) {
    return Status::Conflict("workflow '" + std::string(id) + "' is at event " + std::to_string(cursor) +
                            ", not the expected " + std::to_string(*options.expected_cursor) + ": not deleted");
  }
  if (options.expected_inbox_last && *options.expected_inbox_last != inbox_last) {
    return Status::Conflict("the inbox of workflow '" + std::string(id) + "' is at entry " +
                            std::to_string(inbox_last) + ", not the expected " +
                            std::to_string(*options.expected_inbox_last) + ": not deleted");
  }
  return Status::OK();
}

Status ConsumeAbove(std::string_view id, std::uint64_t through, std::uint64_t last) {
  return Status::InvalidArgument("consuming inbox entries of '" + std::string(id) + "' up to " +
                                 std::to_string(through) + ", above its last entry " + std::to_string(last));
}

Status CheckNotTrimmed(std::string_view id, std::uint64_t after, std::uint64_t trimmed) {
  if (after >= trimmed) return Status::OK();
  return Status::Trimmed(trimmed + 1, "workflow '" + std::string(id) + "': events up to " + std::to_string(trimmed) +
                                          " were trimmed; the first kept sequence is " + std::to_string(trimmed + 1));
}

namespace {
class FixedIterator final : public EventIterator {
 public:
  explicit FixedIterator(Status status) {
    if (!status.ok()) Fail(std::move(status));
  }

 private:
  void NextPage() override {}
};
}  // namespace

std::unique_ptr<EventIterator> EmptyIterator(Status status) {
  return std::make_unique<FixedIterator>(std::move(status));
}

}  // namespace internal
}  // namespace runic
