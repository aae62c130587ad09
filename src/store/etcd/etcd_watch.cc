// The etcd engine's inbox watch (Store::WatchInboxes): one etcd Watch over
// the runner's inbox entries, on a thread of its own, telling the listener
// of each new entry whichever process appended it. A stream that ends (its
// member went away) is opened again on another member from the revision
// after the last one seen, so no entry is missed while etcd keeps that
// history; past a compaction it goes on from the oldest revision etcd kept.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "store/etcd/etcd_tables.h"

namespace runic::internal::etcd {
namespace {

class EtcdInboxWatch final : public InboxWatch {
 public:
  EtcdInboxWatch(std::shared_ptr<EtcdTables> tables, InboxListener listener)
      : tables_(std::move(tables)), listener_(std::move(listener)), table_(tables_->keys().Table('i')) {}

  ~EtcdInboxWatch() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      if (stream_) stream_->Cancel();
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // Opens the first stream; the thread reads it from here on.
  Status Start() {
    Result<std::unique_ptr<WatchStream>> s = Open(0);
    if (!s.ok()) return s.status();
    stream_ = std::move(*s);
    thread_ = std::thread([this] { Loop(); });
    return Status::OK();
  }

 private:
  // A watch of the entry keys' puts from `start` (0: now).
  Result<std::unique_ptr<WatchStream>> Open(std::int64_t start) {
    pb::WatchCreateRequest create;
    create.set_key(table_);
    create.set_range_end(keys::PrefixSuccessor(table_));
    create.set_start_revision(start);
    create.add_filters(pb::WatchCreateRequest::NODELETE);
    pb::WatchResponse created;
    Result<std::unique_ptr<WatchStream>> s =
        tables_->cluster().client().Watch(create, &created, tables_->cluster().client().NewDeadline());
    if (s.ok() && start == 0) next_revision_ = created.header().revision() + 1;
    return s;
  }

  void Loop() {
    pb::WatchResponse r;
    for (;;) {
      WatchStream* stream = nullptr;
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        stream = stream_.get();
      }
      while (stream->Read(&r)) {
        if (r.compact_revision() != 0) {  // history gone: from the oldest kept
          next_revision_ = r.compact_revision();
          break;
        }
        if (r.canceled()) break;
        for (const pb::Event& e : r.events()) {
          next_revision_ = std::max(next_revision_, e.kv().mod_revision() + 1);
          if (e.type() != pb::Event::PUT || e.kv().version() != 1) continue;  // entries are written once
          if (std::optional<std::string> id = keys::DecodeInboxEntryId(e.kv().key(), table_)) listener_(*id);
        }
      }
      // Ended: open again (on the next member) until stopped.
      std::unique_lock lock(mu_);
      stream_.reset();
      for (int attempt = 0; !stopping_; ++attempt) {
        lock.unlock();
        Result<std::unique_ptr<WatchStream>> s = Open(next_revision_);
        lock.lock();
        if (s.ok()) {
          stream_ = std::move(*s);
          if (stopping_) stream_->Cancel();
          break;
        }
        wake_.wait_for(lock, std::chrono::milliseconds(std::min(1000, 50 << std::min(attempt, 4))));
      }
    }
  }

  const std::shared_ptr<EtcdTables> tables_;
  const InboxListener listener_;
  const std::string table_;
  std::int64_t next_revision_ = 0;  // the thread's (and Start's, before it)
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;                // guarded by mu_
  std::unique_ptr<WatchStream> stream_;  // guarded by mu_ (read by the thread without it)
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<InboxWatch>> EtcdTables::WatchInboxes(InboxListener listener) {
  auto watch = std::make_unique<EtcdInboxWatch>(shared_from_this(), std::move(listener));
  if (Status s = watch->Start(); !s.ok()) return s;
  return std::unique_ptr<InboxWatch>(std::move(watch));
}

}  // namespace runic::internal::etcd
