// The disk engine's event iterator: a workflow's events read from one
// RocksDB snapshot (none on a secondary, whose Refresh waits for it).
#include <rocksdb/db.h>

#include <atomic>
#include <memory>
#include <string>

#include "store/disk/disk_engine.h"
#include "store/keys.h"

namespace runic::internal::disk {
namespace {

class DiskIterator final : public EventIterator {
 public:
  // `snapshot` is null on a secondary; the caller's ReadView then keeps
  // Refresh out until this iterator is counted.
  DiskIterator(std::shared_ptr<const void> database, std::shared_ptr<Shared> shared, const rocksdb::Snapshot* snapshot,
               std::string wkey, std::uint64_t after, std::uint64_t end)
      : database_(std::move(database)),
        shared_(std::move(shared)),
        counted_(*shared_),
        snapshot_(snapshot),
        wkey_(std::move(wkey)),
        expected_(after + 1),
        end_(end) {
    upper_ = keys::EventKey(wkey_, end + 1);
    upper_bound_ = rocksdb::Slice(upper_);
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot_;
    ro.iterate_upper_bound = &upper_bound_;
    it_.reset(shared_->db->NewIterator(ro, shared_->cf[kEvents]));
    it_->Seek(keys::EventKey(wkey_, after + 1));
    NextPage();
  }
  ~DiskIterator() override {
    it_.reset();
    if (snapshot_ != nullptr) shared_->db->ReleaseSnapshot(snapshot_);
  }

 private:
  // One event per page: RocksDB's value stays valid until its Next().
  void NextPage() override {
    if (started_) {
      ++expected_;
      it_->Next();
    }
    started_ = true;
    if (!it_->Valid()) {
      if (!it_->status().ok()) return Fail(FromRocks(it_->status(), "reading events"));
      // Every sequence up to the counter must be there: a gap means damaged
      // storage, never a shorter stream.
      if (expected_ <= end_) return Fail(Status::Corruption("event " + std::to_string(expected_) + " is missing"));
      return SetPage(expected_, nullptr, 0);
    }
    rocksdb::Slice key = it_->key();
    if (key.size() != wkey_.size() + 8 ||
        keys::GetFixed64(std::string_view(key.data() + wkey_.size(), 8)) != expected_) {
      return Fail(Status::Corruption("event " + std::to_string(expected_) + " is missing or misplaced"));
    }
    current_ = std::string_view(it_->value().data(), it_->value().size());
    SetPage(expected_, &current_, 1);
  }

  // Counts an open iterator of a secondary for Refresh (Shared::open_streams).
  class Counted {
   public:
    explicit Counted(Shared& s) : s_(s.read_only ? &s : nullptr) {
      if (s_ != nullptr) s_->open_streams.fetch_add(1, std::memory_order_acq_rel);
    }
    ~Counted() {
      if (s_ != nullptr) s_->open_streams.fetch_sub(1, std::memory_order_acq_rel);
    }
    Counted(const Counted&) = delete;
    Counted& operator=(const Counted&) = delete;

   private:
    Shared* const s_;
  };

  const std::shared_ptr<const void> database_;  // released last
  std::shared_ptr<Shared> shared_;
  Counted counted_;
  const rocksdb::Snapshot* snapshot_;
  const std::string wkey_;
  std::string upper_;
  rocksdb::Slice upper_bound_;
  std::unique_ptr<rocksdb::Iterator> it_;
  std::uint64_t expected_;
  const std::uint64_t end_;
  bool started_ = false;
  std::string_view current_;
};

}  // namespace

std::unique_ptr<EventIterator> NewDiskIterator(std::shared_ptr<const void> database, std::shared_ptr<Shared> shared,
                                               const rocksdb::Snapshot* snapshot, std::string wkey, std::uint64_t after,
                                               std::uint64_t end) {
  return std::unique_ptr<EventIterator>(
      new DiskIterator(std::move(database), std::move(shared), snapshot, std::move(wkey), after, end));
}

}  // namespace runic::internal::disk
