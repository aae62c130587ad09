// The shared state behind every Database, Store and EventIterator handle of
// one open database.
#ifndef RUNIC_SRC_STORE_DATABASE_IMPL_H_
#define RUNIC_SRC_STORE_DATABASE_IMPL_H_

#include <memory>
#include <string>

#include "runic/database.h"
#include "store/engine.h"

namespace runic {

class DatabaseImpl {
 public:
  DatabaseImpl(DatabaseOptions options, std::unique_ptr<internal::Engine> engine)
      : options_(std::move(options)), limits_(engine->Limits()), engine_(std::move(engine)) {}

  const DatabaseOptions& options() const { return options_; }
  const StoreLimits& limits() const { return limits_; }
  internal::Engine& engine() { return *engine_; }

  // Every write through a handle of this database asks this first, so that
  // a read-only database refuses writes the same way in every engine.
  Status CheckWritable() const {
    if (!options_.read_only) return Status::OK();
    return Status::InvalidArgument("database " + options_.dir + " is open read-only");
  }

  // Builds the public handles (their constructors are private).
  static std::shared_ptr<Database> MakeDatabase(std::shared_ptr<DatabaseImpl> impl);
  static Result<std::unique_ptr<Store>> MakeStore(std::shared_ptr<DatabaseImpl> impl, std::string_view runner,
                                                  const StoreOptions& options);

 private:
  const DatabaseOptions options_;
  const StoreLimits limits_;
  const std::unique_ptr<internal::Engine> engine_;
};

}  // namespace runic

#endif  // RUNIC_SRC_STORE_DATABASE_IMPL_H_
