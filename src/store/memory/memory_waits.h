// The memory engine's inboxes and state and due-time indexes: per-workflow
// state and the ordered indexes over it. The caller (MemoryTables) holds its
// lock around every call.
#ifndef RUNIC_SRC_STORE_MEMORY_MEMORY_WAITS_H_
#define RUNIC_SRC_STORE_MEMORY_MEMORY_WAITS_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "runic/store.h"
#include "store/engine.h"

namespace runic::internal {

// One workflow's part.
struct WorkflowWaits {
  std::string state_tag;                       // "": not in the state index
  std::uint64_t due = 0;                       // 0: not in the due-time index
  std::map<std::uint64_t, std::string> inbox;  // pending entries by sequence
  std::uint64_t inbox_last = 0, inbox_consumed = 0;
  bool inbox_closed = false;

  bool empty() const { return state_tag.empty() && due == 0 && inbox.empty() && inbox_last == 0 && !inbox_closed; }
};

class WaitIndexes {
 public:
  // The checks of an append's options that depend on the stored state.
  static Status Check(std::string_view id, const WorkflowWaits& w, const AppendOptions& o) {
    if (o.consume_inbox_through > w.inbox_last) return ConsumeAbove(id, o.consume_inbox_through, w.inbox_last);
    return Status::OK();
  }

  // Applies an append's options (checked).
  void Apply(const std::string& id, WorkflowWaits& w, const AppendOptions& o) {
    if (o.state_tag) SetTag(id, w, std::string(*o.state_tag));
    if (o.due) SetDue(id, w, *o.due);
    if (o.consume_inbox_through > w.inbox_consumed) {
      w.inbox.erase(w.inbox.begin(), w.inbox.upper_bound(o.consume_inbox_through));
      w.inbox_consumed = o.consume_inbox_through;
      if (w.inbox.empty()) pending_.erase(id);
    }
    if (o.close_inbox) w.inbox_closed = true;
  }

  Result<std::uint64_t> AppendInbox(const std::string& id, WorkflowWaits& w, std::uint64_t limit,
                                    std::string_view entry) {
    if (w.inbox_closed) return InboxClosed(id);
    if (w.inbox_last - w.inbox_consumed >= limit) return InboxFull(id, limit);
    w.inbox.emplace(++w.inbox_last, std::string(entry));
    pending_.insert(id);
    return w.inbox_last;
  }

  // Drops the workflow from every index (Delete, import).
  void Remove(const std::string& id, WorkflowWaits& w) {
    SetTag(id, w, "");
    SetDue(id, w, 0);
    pending_.erase(id);
    w = WorkflowWaits{};
  }

  // ImportWorkflow's inbox: the entries it holds and those imported since,
  // of which (consumed, last] must all be there (kInvalidArgument, nothing
  // changed, otherwise). Returns them for Import.
  static Result<std::map<std::uint64_t, std::string>> ImportedInbox(std::string_view id, const WorkflowWaits& w,
                                                                    std::map<std::uint64_t, std::string> imported,
                                                                    const WorkflowImport& in) {
    imported.insert(w.inbox.begin(), w.inbox.end());  // an imported entry wins over a held one
    imported.erase(imported.begin(), imported.upper_bound(in.inbox_consumed));
    imported.erase(imported.upper_bound(in.inbox_last), imported.end());
    if (imported.size() != in.inbox_last - in.inbox_consumed) {
      return Status::InvalidArgument("import of '" + std::string(id) + "': inbox entries " +
                                     std::to_string(in.inbox_consumed + 1) + " to " + std::to_string(in.inbox_last) +
                                     " must be imported first (" + std::to_string(imported.size()) + " are)");
    }
    return imported;
  }

  // ImportWorkflow: the workflow's place in the indexes and its inbox as `in`
  // says, with `entries` from ImportedInbox.
  void Import(const std::string& id, WorkflowWaits& w, const WorkflowImport& in,
              std::map<std::uint64_t, std::string> entries) {
    Remove(id, w);
    SetTag(id, w, in.state_tag);
    SetDue(id, w, in.due);
    w.inbox_last = in.inbox_last;
    w.inbox_consumed = in.inbox_consumed;
    w.inbox_closed = in.inbox_closed;
    w.inbox = std::move(entries);
    if (!w.inbox.empty()) pending_.insert(id);
  }

  static InboxPage Read(const WorkflowWaits& w, const InboxReadOptions& o) {
    InboxPage page;
    for (auto it = w.inbox.upper_bound(o.after); it != w.inbox.end(); ++it) {
      if (page.entries.size() == o.limit) {
        page.more = true;
        break;
      }
      page.entries.push_back(InboxEntry{it->first, it->second});
    }
    return page;
  }

  ListPage ListInboxes(const ListOptions& o) const {
    ListPage page;
    auto it = o.start_after.empty() || o.start_after < o.prefix ? pending_.lower_bound(o.prefix)
                                                                : pending_.upper_bound(o.start_after);
    for (; it != pending_.end() && it->starts_with(o.prefix); ++it) {
      if (page.ids.size() == o.limit) {
        page.more = true;
        break;
      }
      page.ids.push_back(*it);
    }
    return page;
  }

  StatePage ListByState(const StateListOptions& o) const {
    StatePage page;
    const std::pair<std::string, std::string> from{o.tag, o.tag_is_prefix ? std::string() : o.id_prefix};
    auto it = by_state_.lower_bound(from);
    if (!o.start_after_tag.empty() || !o.start_after_id.empty()) {
      const std::pair<std::string, std::string> after{o.start_after_tag, o.start_after_id};
      if (after >= from) it = by_state_.upper_bound(after);
    }
    for (; it != by_state_.end(); ++it) {
      const bool tag_ok = o.tag_is_prefix ? it->first.starts_with(o.tag) : it->first == o.tag;
      if (!tag_ok || (!o.tag_is_prefix && !it->second.starts_with(o.id_prefix))) break;
      if (page.entries.size() == o.limit) {
        page.more = true;
        break;
      }
      page.entries.push_back(TaggedId{it->first, it->second});
    }
    return page;
  }

  DuePage ListDue(const DueListOptions& o) const {
    DuePage page;
    auto it = by_due_.upper_bound({o.start_after_due, o.start_after_id});
    for (; it != by_due_.end() && it->first < o.before; ++it) {
      if (page.entries.size() == o.limit) {
        page.more = true;
        break;
      }
      page.entries.push_back(DueEntry{it->first, it->second});
    }
    return page;
  }

  std::uint64_t state_entries() const { return by_state_.size(); }
  std::uint64_t due_entries() const { return by_due_.size(); }

  void Clear() {
    by_state_.clear();
    by_due_.clear();
    pending_.clear();
  }

 private:
  void SetTag(const std::string& id, WorkflowWaits& w, std::string tag) {
    if (tag == w.state_tag) return;
    if (!w.state_tag.empty()) by_state_.erase({w.state_tag, id});
    if (!tag.empty()) by_state_.insert({tag, id});
    w.state_tag = std::move(tag);
  }
  void SetDue(const std::string& id, WorkflowWaits& w, std::uint64_t due) {
    if (due == w.due) return;
    if (w.due != 0) by_due_.erase({w.due, id});
    if (due != 0) by_due_.insert({due, id});
    w.due = due;
  }

  std::set<std::pair<std::string, std::string>> by_state_;
  std::set<std::pair<std::uint64_t, std::string>> by_due_;
  std::set<std::string, std::less<>> pending_;
};

}  // namespace runic::internal

#endif  // RUNIC_SRC_STORE_MEMORY_MEMORY_WAITS_H_
