// The etcd engine's event streams: BatchCursor (etcd_iterator.h) and the
// iterator that pages through it at a pinned revision.
#include "store/etcd/etcd_iterator.h"

#include <algorithm>

namespace runic::internal::etcd {

// The next events (at least one unless done()), as views valid until the
// next call; `first` is the sequence of the first. On an error nothing
// moves, so a caller may retry (at another revision: IsCompacted).
Status BatchCursor::Fetch(std::vector<std::string_view>* out, std::uint64_t* first) {
  out->clear();
  values_.clear();
  *first = next_;
  Client& client = tables_->cluster().client();
  const Deadline deadline = client.NewDeadline();
  std::uint64_t next = next_, scan_from = scan_from_;
  for (int page = 0; page < 100000 && out->empty() && next <= last_; ++page) {
    pb::RangeRequest req;
    req.set_key(tables_->keys().Event(id_, scan_from));
    req.set_range_end(tables_->keys().Event(id_, last_ + 1));
    req.set_limit(limit_);
    req.set_revision(revision_);
    req.set_serializable(!linearizable_);
    pb::RangeResponse r;
    if (Status s = client.Range(req, &r, deadline); !s.ok()) return s;
    std::size_t biggest = 1;
    for (pb::KeyValue& kv : *r.mutable_kvs()) {
      const std::uint64_t batch_first = BatchFirst(kv.key());
      biggest = std::max(biggest, kv.value().size());
      values_.push_back(std::move(*kv.mutable_value()));
      if (!DecodeBatch(values_.back(), &events_)) {
        return Status::Corruption("the event batch at " + std::to_string(batch_first) + " of '" + id_ +
                                  "' is malformed");
      }
      for (std::size_t i = 0; i < events_.size(); ++i) {
        const std::uint64_t seq = batch_first + i;
        if (seq < next) continue;
        if (seq > last_) break;
        if (seq != next) return Missing(next);
        out->push_back(events_[i]);
        ++next;
      }
      scan_from = batch_first + 1;
    }
    limit_ = std::clamp<std::int64_t>(static_cast<std::int64_t>(kPageBytes / biggest), 1, kMaxPageKeys);
    if (!r.more() && next <= last_ && out->empty()) return Missing(next);
    if (!r.more()) break;
  }
  if (out->empty() && next <= last_) return Missing(next);
  next_ = next;
  scan_from_ = scan_from;
  return Status::OK();
}

Status BatchCursor::Missing(std::uint64_t seq) const {
  return Status::Corruption("event " + std::to_string(seq) + " of '" + id_ + "' is missing (counter " +
                            std::to_string(last_) + ")");
}

namespace {

// Pages through the events at one revision, so the stream is the workflow
// as it was when it opened, whatever is written meanwhile. If etcd compacts
// that revision away, the iterator moves to a newer one: events at or below
// the counter it saw never change, unless trimmed or deleted, which it
// reports.
class EtcdEventIterator final : public EventIterator {
 public:
  EtcdEventIterator(std::shared_ptr<const void> database, std::shared_ptr<EtcdTables> tables, std::string id,
                    std::uint64_t after, std::uint64_t last, std::int64_t revision, bool linearizable)
      : database_(std::move(database)),
        tables_(tables),
        cursor_(std::move(tables), std::move(id), after + 1, last, revision, linearizable),
        last_(last),
        linearizable_(linearizable) {
    NextPage();
  }

 private:
  void NextPage() override {
    if (cursor_.done()) return SetPage(cursor_.next(), nullptr, 0);
    const Deadline deadline = tables_->cluster().client().NewDeadline();
    std::uint64_t first = 0;
    Status s;
    for (int attempt = 0; attempt < 5; ++attempt) {
      s = cursor_.Fetch(&views_, &first);
      if (!IsCompacted(s)) break;
      if (Status moved = MoveRevision(deadline); !moved.ok()) return Fail(moved);
    }
    if (!s.ok()) return Fail(s);
    SetPage(first, views_.data(), views_.size());
  }

  // The pinned revision was compacted: go on at the newest one, if the
  // events not yet read are still what they were.
  Status MoveRevision(Deadline deadline) {
    std::int64_t revision = 0;
    Result<CounterState> c = tables_->ReadCounter(cursor_.id(), deadline, linearizable_, &revision);
    if (!c.ok()) return c.status();
    if (!c->exists() || c->value.cursor < last_) {
      return Status::Unavailable("workflow '" + cursor_.id() + "' was deleted while it was streamed");
    }
    if (Status t = CheckNotTrimmed(cursor_.id(), cursor_.next() - 1, c->value.trimmed); !t.ok()) return t;
    cursor_.set_revision(revision);
    return Status::OK();
  }

  const std::shared_ptr<const void> database_;  // keeps the engine open
  const std::shared_ptr<EtcdTables> tables_;
  BatchCursor cursor_;
  const std::uint64_t last_;
  const bool linearizable_;
  std::vector<std::string_view> views_;
};

}  // namespace

Result<std::unique_ptr<EventIterator>> EtcdTables::Stream(std::string_view id, std::uint64_t after,
                                                          std::shared_ptr<const void> database) {
  const bool linearizable = c_->LinearizableFor(k_.Owner(id));
  std::int64_t revision = 0;
  Result<CounterState> c = ReadCounter(id, c_->client().NewDeadline(), linearizable, &revision);
  if (!c.ok()) return c.status();
  if (!c->exists()) return Status::NotFound("no event stream for " + Quote(id));
  if (Status s = CheckNotTrimmed(id, after, c->value.trimmed); !s.ok()) return s;
  if (after >= c->value.cursor) return EmptyIterator();
  auto it = std::make_unique<EtcdEventIterator>(std::move(database), shared_from_this(), std::string(id), after,
                                                c->value.cursor, revision, linearizable);
  if (!it->status().ok()) return it->status();
  return std::unique_ptr<EventIterator>(std::move(it));
}

}  // namespace runic::internal::etcd
