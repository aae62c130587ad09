// Reading a workflow's event batches at one revision (BatchCursor): the
// etcd engine's event iterator reads its events with it, Describe their
// sizes.
#ifndef RUNIC_SRC_STORE_ETCD_ETCD_ITERATOR_H_
#define RUNIC_SRC_STORE_ETCD_ETCD_ITERATOR_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runic/status.h"
#include "store/etcd/etcd_tables.h"

namespace runic::internal::etcd {

// Walks the event batches of one workflow at one revision and yields each
// sequence from `next` to `last` once, in order (where batches overlap,
// which only imports make, the batch with the lower key wins). A sequence
// that no batch holds is damage: kCorruption, never a shorter stream.
class BatchCursor {
 public:
  BatchCursor(std::shared_ptr<EtcdTables> tables, std::string id, std::uint64_t next, std::uint64_t last,
              std::int64_t revision, bool linearizable)
      : tables_(std::move(tables)),
        id_(std::move(id)),
        next_(next),
        last_(last),
        scan_from_(BatchWindowStart(next)),
        revision_(revision),
        linearizable_(linearizable) {}

  bool done() const { return next_ > last_; }
  std::uint64_t next() const { return next_; }
  const std::string& id() const { return id_; }
  void set_revision(std::int64_t revision) { revision_ = revision; }

  Status Fetch(std::vector<std::string_view>* out, std::uint64_t* first);

 private:
  Status Missing(std::uint64_t seq) const;

  const std::shared_ptr<EtcdTables> tables_;  // a dropped runner's outlive its iterators
  const std::string id_;
  std::uint64_t next_;
  const std::uint64_t last_;
  std::uint64_t scan_from_;  // the batch key to read from
  std::int64_t revision_;
  const bool linearizable_;
  std::int64_t limit_ = 16;
  std::deque<std::string> values_;  // stable addresses for the views
  std::vector<std::string_view> events_;
};

}  // namespace runic::internal::etcd

#endif  // RUNIC_SRC_STORE_ETCD_ETCD_ITERATOR_H_
