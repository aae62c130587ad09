#include "store/disk/group_commit.h"

#include <algorithm>

namespace runic::internal {
namespace {

constexpr std::chrono::nanoseconds kMaxGather = std::chrono::milliseconds(2);

// Copies the operations of one batch into another.
class Copier final : public rocksdb::WriteBatch::Handler {
 public:
  Copier(rocksdb::WriteBatch* out, const std::vector<rocksdb::ColumnFamilyHandle*>& handles)
      : out_(out), handles_(handles) {}

  rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& key, const rocksdb::Slice& value) override {
    return Handle(cf) ? out_->Put(Handle(cf), key, value) : Unknown(cf);
  }
  rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& key) override {
    return Handle(cf) ? out_->Delete(Handle(cf), key) : Unknown(cf);
  }
  rocksdb::Status DeleteRangeCF(uint32_t cf, const rocksdb::Slice& begin, const rocksdb::Slice& end) override {
    return Handle(cf) ? out_->DeleteRange(Handle(cf), begin, end) : Unknown(cf);
  }

 private:
  rocksdb::ColumnFamilyHandle* Handle(uint32_t cf) const { return cf < handles_.size() ? handles_[cf] : nullptr; }
  static rocksdb::Status Unknown(uint32_t cf) {
    return rocksdb::Status::InvalidArgument("group commit: unknown column family " + std::to_string(cf));
  }

  rocksdb::WriteBatch* out_;
  const std::vector<rocksdb::ColumnFamilyHandle*>& handles_;
};

}  // namespace

GroupCommit::GroupCommit(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles)
    : db_(db), handles_(std::move(handles)) {}

rocksdb::Status GroupCommit::Commit(rocksdb::WriteBatch* batch) {
  Pending self{batch, rocksdb::Status(), false};
  std::unique_lock lock(mu_);
  queue_.push_back(&self);
  cv_.notify_all();  // a gathering leader counts arrivals
  cv_.wait(lock, [&] { return self.done || (!leading_ && queue_.front() == &self); });
  if (self.done) return self.status;

  leading_ = true;
  const auto deadline = std::chrono::steady_clock::now() + std::min(last_commit_ / 4, kMaxGather);
  cv_.wait_until(lock, deadline, [&] { return queue_.size() >= last_group_size_; });
  std::vector<Pending*> group(queue_.begin(), queue_.end());
  queue_.clear();
  lock.unlock();

  const auto start = std::chrono::steady_clock::now();
  rocksdb::Status status = WriteGroup(group);
  const auto took = std::chrono::steady_clock::now() - start;

  lock.lock();
  for (Pending* p : group) {
    p->status = status;
    p->done = true;
  }
  last_group_size_ = group.size();
  last_commit_ = took;
  leading_ = false;
  cv_.notify_all();
  return status;
}

rocksdb::Status GroupCommit::WriteGroup(const std::vector<Pending*>& group) {
  rocksdb::WriteOptions options;
  options.sync = true;
  if (group.size() == 1) return db_->Write(options, group.front()->batch);
  rocksdb::WriteBatch merged;
  Copier copier(&merged, handles_);
  for (Pending* p : group) {
    rocksdb::Status s = p->batch->Iterate(&copier);
    if (!s.ok()) return s;
  }
  return db_->Write(options, &merged);
}

}  // namespace runic::internal
