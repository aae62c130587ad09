// The conformance suite's fixture: one store on each engine (kEngines),
// shared by store_conformance_test.cc (which instantiates the suite) and
// store_waits_test.cc (inboxes and indexes).
#ifndef RUNIC_TESTS_STORE_CONFORMANCE_H_
#define RUNIC_TESTS_STORE_CONFORMANCE_H_

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "runic/runic.h"
#ifdef RUNIC_CONFORMANCE_ETCD
#include "shared_etcd_cluster.h"
#endif
#include "test_util.h"

namespace runic {

struct EngineCase {
  const char* name;
  bool disc_copies;
  bool sync;
  bool etcd = false;
};

// Names the case in test listings (ctest shows GetParam()).
inline void PrintTo(const EngineCase& c, std::ostream* os) { *os << c.name; }

#ifdef RUNIC_CONFORMANCE_ETCD
constexpr EngineCase kEngines[] = {
    {"etcd", true, false, true},
};
#else
constexpr EngineCase kEngines[] = {
    {"memory", false, false},
    {"disk", true, false},
    {"disk_sync", true, true},
};
#endif

class StoreConformance : public ::testing::TestWithParam<EngineCase> {
 protected:
  void SetUp() override { Reopen(); }

  DatabaseOptions Options() const {
    DatabaseOptions o;
    o.disc_copies = GetParam().disc_copies;
    o.sync = GetParam().sync;
    o.dir = GetParam().disc_copies ? dir_.Sub("db") : dir_.path();  // memory: a unique name
#ifdef RUNIC_CONFORMANCE_ETCD
    o.nodes = test::SharedEtcdCluster().ClientEndpoints();
    o.dir = dir_.path();  // a database name of its own on the shared cluster
#endif
    return o;
  }

  // Releases every handle (closing the database) and opens it again. For the
  // memory engine this is a fresh, empty database.
  void Reopen() {
    store_.reset();
    db_.reset();
    Result<std::shared_ptr<Database>> db = Database::Open(Options());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    store_ = OpenStore("runner");
  }

  std::unique_ptr<Store> OpenStore(std::string_view runner) {
    Result<std::unique_ptr<Store>> s = db_->OpenStore(runner);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // Every event of `id` after `after`, checking order and contiguity.
  std::vector<std::string> StreamAll(Store& store, std::string_view id, std::uint64_t after = 0) {
    Result<std::unique_ptr<EventIterator>> it = store.Stream(id, {after});
    EXPECT_TRUE(it.ok()) << it.status().ToString();
    std::vector<std::string> out;
    if (!it.ok()) return out;
    std::uint64_t expected = after + 1;
    for (; (*it)->Valid(); (*it)->Next()) {
      EXPECT_EQ((*it)->sequence(), expected++);
      out.emplace_back((*it)->value());
    }
    EXPECT_TRUE((*it)->status().ok()) << (*it)->status().ToString();
    return out;
  }

  std::vector<std::string> Ids(const ListOptions& options = {}) {
    Result<ListPage> page = store_->List(options);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->ids : std::vector<std::string>{};
  }

  bool durable() const { return GetParam().disc_copies; }

  test::TempDir dir_;
  std::shared_ptr<Database> db_;
  std::unique_ptr<Store> store_;
};

}  // namespace runic

#endif  // RUNIC_TESTS_STORE_CONFORMANCE_H_
