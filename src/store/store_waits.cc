// The public Store handle's calls for waiting workflows: inboxes, the state
// and due-time indexes (the rest is in store.cc).
#include <limits>

#include "runic/store.h"
#include "store/store_rep.h"

namespace runic {

using internal::CheckLimit;
using internal::CheckListOptions;
using internal::CheckSize;
using internal::Instrumented;

Result<std::uint64_t> Store::AppendInbox(std::string_view id, std::string_view entry) {
  return Instrumented(*rep_, StoreOp::kAppendInbox, id, entry.size(), [&]() -> Result<std::uint64_t> {
    if (Status w = rep_->db->CheckWritable(); !w.ok()) return w;
    Status s = CheckSize("workflow id", id, limits().max_id_bytes);
    if (s.ok()) s = CheckSize("inbox entry", entry, limits().max_value_bytes);
    if (!s.ok()) return s;
    return rep_->tables->AppendInbox(id, entry);
  });
}

Result<InboxPage> Store::ReadInbox(std::string_view id, const InboxReadOptions& options) {
  return Instrumented(*rep_, StoreOp::kReadInbox, id, 0, [&]() -> Result<InboxPage> {
    Status s = CheckSize("workflow id", id, limits().max_id_bytes);
    if (s.ok()) s = CheckLimit(options.limit);
    if (!s.ok()) return s;
    return rep_->tables->ReadInbox(id, options);
  });
}

Result<ListPage> Store::ListInboxes(const ListOptions& options) {
  return Instrumented(*rep_, StoreOp::kListInboxes, options.prefix, 0, [&]() -> Result<ListPage> {
    if (Status s = CheckListOptions(limits(), options); !s.ok()) return s;
    return rep_->tables->ListInboxes(options);
  });
}

Result<std::unique_ptr<InboxWatch>> Store::WatchInboxes(InboxListener listener) {
  if (!listener) return Status::InvalidArgument("WatchInboxes needs a listener");
  return internal::Guarded(StoreOp::kListInboxes, [&]() -> Result<std::unique_ptr<InboxWatch>> {
    return rep_->tables->WatchInboxes(std::move(listener));
  });
}

Result<StatePage> Store::ListByState(const StateListOptions& options) {
  return Instrumented(*rep_, StoreOp::kListByState, options.id_prefix, 0, [&]() -> Result<StatePage> {
    const StoreLimits& lim = limits();
    if (Status s = CheckLimit(options.limit); !s.ok()) return s;
    if (!options.tag_is_prefix) {
      if (Status s = internal::CheckStateTag(lim, options.tag); !s.ok()) return s;
    } else if (!options.id_prefix.empty()) {
      return Status::InvalidArgument("ListByState: an id prefix needs an exact tag, not a tag prefix");
    }
    if (options.tag.size() > lim.max_state_tag_bytes || options.start_after_tag.size() > lim.max_state_tag_bytes ||
        options.id_prefix.size() > lim.max_id_bytes || options.start_after_id.size() > lim.max_id_bytes) {
      return Status::InvalidArgument("ListByState: a tag or id is longer than its limit");
    }
    for (std::string_view t : {std::string_view(options.tag), std::string_view(options.start_after_tag)}) {
      if (t.find('\0') != std::string_view::npos) return Status::InvalidArgument("state tag holds a 0x00 byte");
    }
    return rep_->tables->ListByState(options);
  });
}

Result<DuePage> Store::ListDue(const DueListOptions& options) {
  return Instrumented(*rep_, StoreOp::kListDue, options.start_after_id, 0, [&]() -> Result<DuePage> {
    if (Status s = CheckLimit(options.limit); !s.ok()) return s;
    if (options.start_after_id.size() > limits().max_id_bytes) {
      return Status::InvalidArgument("ListDue: start_after_id is longer than the id limit");
    }
    return rep_->tables->ListDue(options);
  });
}

Status Store::ImportInbox(std::string_view id, const std::vector<InboxEntry>& entries) {
  return Instrumented(*rep_, StoreOp::kImportInbox, id, 0, [&]() -> Status {
    if (Status w = rep_->db->CheckWritable(); !w.ok()) return w;
    const StoreLimits& lim = limits();
    if (Status s = CheckSize("workflow id", id, lim.max_id_bytes); !s.ok()) return s;
    if (entries.empty()) return Status::InvalidArgument("import of an empty inbox batch");
    if (entries.size() > lim.max_inbox_entries) {
      return Status::InvalidArgument("import of " + std::to_string(entries.size()) + " inbox entries; the limit is " +
                                     std::to_string(lim.max_inbox_entries));
    }
    for (const InboxEntry& e : entries) {
      if (Status s = CheckSize("inbox entry", e.bytes, lim.max_value_bytes); !s.ok()) return s;
      if (e.sequence == 0 || e.sequence == std::numeric_limits<std::uint64_t>::max()) {
        return Status::InvalidArgument("inbox entry sequence " + std::to_string(e.sequence) + " is out of range");
      }
    }
    return rep_->tables->ImportInbox(id, entries);
  });
}

}  // namespace runic
