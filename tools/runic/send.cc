// signal, cancel, terminate, pause, unpause, retry: entries appended to a
// workflow's inbox (runic/inbox.h), which its owner records. On etcd they
// work while services run (the owner, or whoever loads the workflow next,
// records them); a disk store must not be held by another process (the
// Session says so in one line): the service records them when it next
// resumes the workflow.
#include <cstdio>

#include "commands.h"

namespace runic::cli {

int Signal(const Target& t, const std::string& id, const std::string& name, const std::string& json,
           const std::string& key) {
  Value value = Value::parse(json, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) throw Failure("the signal's value is not JSON: " + json, kExitUsage);
  Session session(t, Access::kWrite);
  Result<std::uint64_t> sequence = SendSignal(session.store(), id, name, value, key);
  if (!sequence.ok()) session.Fail(sequence.status(), "sending");
  std::printf("signal '%s' sent to %s (inbox entry %llu)\n", name.c_str(), id.c_str(),
              static_cast<unsigned long long>(*sequence));
  return kExitOk;
}

int Control(const Target& t, const std::string& id, WorkflowControl control, const std::string& reason) {
  Session session(t, Access::kWrite);
  Result<std::uint64_t> sequence = SendControl(session.store(), id, control, reason);
  if (!sequence.ok()) session.Fail(sequence.status(), "sending");
  std::printf("%s sent to %s (inbox entry %llu)\n", WorkflowControlName(control), id.c_str(),
              static_cast<unsigned long long>(*sequence));
  return kExitOk;
}

}  // namespace runic::cli
