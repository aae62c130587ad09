// Database: option resolution and the process-wide registry that makes
// opening the same database twice return the same one.
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>

#include "runic/database.h"
#include "store/database_impl.h"
#include "store/uri.h"

namespace runic {

namespace {

constexpr std::size_t kMaxReadCacheBytes = std::size_t{1} << 40;

// Open databases by key ("disk:/abs/dir" or "memory:name"). An entry exists
// from the moment a database starts opening until it has finished closing,
// so an Open of the same key never races with the open or the close of
// another instance (which holds the directory's lock). The engine itself
// opens and closes outside the registry lock: a slow WAL replay must not
// block other databases.
struct Registry {
  std::mutex mu;
  std::condition_variable changed;
  std::map<std::string, std::weak_ptr<DatabaseImpl>> open;  // empty while opening
};

Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: used by destructors at exit
  return *r;
}

constexpr std::size_t kMaxEtcdNameBytes = 256;

Result<DatabaseOptions> ResolveEtcd(DatabaseOptions out) {
  if (!out.disc_copies) return Status::InvalidArgument("nodes (etcd) needs disc_copies = true");
  if (out.sync) {
    return Status::InvalidArgument("sync does not apply to etcd: every write is on a quorum of disks already");
  }
  if (out.dir.empty()) out.dir = "runic";
  if (out.dir.size() > kMaxEtcdNameBytes) {
    return Status::InvalidArgument("an etcd database name is at most " + std::to_string(kMaxEtcdNameBytes) + " bytes");
  }
  // Before the engine opens: the client would take a bad member for one that
  // does not answer, and fail only after the call timeout.
  for (const std::string& node : out.nodes) {
    if (Status s = internal::CheckEtcdMember(node); !s.ok()) return s;
  }
  return out;
}

Result<DatabaseOptions> Resolve(const DatabaseOptions& in) {
  DatabaseOptions out = in;
  if (out.read_cache_bytes > kMaxReadCacheBytes) {
    return Status::InvalidArgument("read_cache_bytes " + std::to_string(out.read_cache_bytes) +
                                   " is above the maximum of 1 TiB");
  }
  if (!out.nodes.empty()) return ResolveEtcd(std::move(out));
  if (!out.disc_copies) {
    if (out.sync) return Status::InvalidArgument("sync = true needs disc_copies = true");
    // Nothing else could be writing a memory database: it lives in this process.
    if (out.read_only) return Status::InvalidArgument("read_only = true needs disc_copies = true");
    return out;
  }
  if (out.dir.empty()) {
    const char* env = std::getenv("RUNIC_DIR");
    out.dir = (env != nullptr && *env != '\0') ? env : "./runic-data";
  }
  if (out.dir.find('\0') != std::string::npos) {
    return Status::InvalidArgument("dir contains a NUL byte");
  }
  std::error_code ec;
  std::filesystem::path p = std::filesystem::weakly_canonical(std::filesystem::absolute(out.dir, ec), ec);
  if (ec) return Status::IOError("cannot resolve dir '" + out.dir + "': " + ec.message());
  out.dir = p.lexically_normal().string();
  if (out.dir.size() > 1 && out.dir.back() == '/') out.dir.pop_back();
  return out;
}

std::string KeyOf(const DatabaseOptions& o) {
  if (!o.nodes.empty()) {
    std::string key = "etcd:";
    for (const std::string& n : o.nodes) key += n + ",";
    return key + "/" + o.dir;
  }
  return (o.disc_copies ? "disk:" : "memory:") + o.dir;
}

Status CheckSameOptions(const DatabaseOptions& open, const DatabaseOptions& asked) {
  std::string diff;
  if (open.read_only != asked.read_only) {
    diff = "read_only";
  } else if (open.sync != asked.sync) {
    diff = "sync";
  } else if (open.disc_copies && open.read_cache_bytes != asked.read_cache_bytes) {
    diff = "read_cache_bytes";
  }
  if (diff.empty()) return Status::OK();
  return Status::InvalidArgument("database '" + KeyOf(open) + "' is already open in this process with a different " +
                                 diff + "; close it first or open it with the same options");
}

}  // namespace

std::shared_ptr<Database> DatabaseImpl::MakeDatabase(std::shared_ptr<DatabaseImpl> impl) {
  return std::shared_ptr<Database>(new Database(std::move(impl)));
}

Result<std::shared_ptr<Database>> Database::Open(const DatabaseOptions& options) {
  Result<DatabaseOptions> resolved = Resolve(options);
  if (!resolved.ok()) return resolved.status();
  const std::string key = KeyOf(*resolved);

  Registry& reg = registry();
  std::unique_lock<std::mutex> lock(reg.mu);
  for (;;) {
    auto it = reg.open.find(key);
    if (it == reg.open.end()) break;
    if (std::shared_ptr<DatabaseImpl> db = it->second.lock()) {
      // Unlock first: should `db` be the last reference, its deleter takes
      // the registry lock.
      lock.unlock();
      Status same = CheckSameOptions(db->options(), *resolved);
      if (!same.ok()) return same;
      return DatabaseImpl::MakeDatabase(std::move(db));
    }
    reg.changed.wait(lock);  // another instance is opening or closing
  }
  reg.open[key];  // opening
  lock.unlock();

  Result<std::unique_ptr<internal::Engine>> engine = !resolved->nodes.empty() ? internal::OpenEtcdEngine(*resolved)
                                                     : resolved->disc_copies  ? internal::OpenDiskEngine(*resolved)
                                                                              : internal::OpenMemoryEngine(*resolved);
  std::shared_ptr<DatabaseImpl> impl;
  if (engine.ok()) {
    // The deleter closes the engine, then removes the registry entry.
    impl.reset(new DatabaseImpl(*resolved, std::move(*engine)), [key](DatabaseImpl* db) {
      delete db;
      Registry& r = registry();
      std::lock_guard<std::mutex> guard(r.mu);
      r.open.erase(key);
      r.changed.notify_all();
    });
  }
  lock.lock();
  if (impl) {
    reg.open[key] = impl;
  } else {
    reg.open.erase(key);
  }
  reg.changed.notify_all();
  lock.unlock();
  if (!impl) return engine.status();
  return DatabaseImpl::MakeDatabase(std::move(impl));
}

Result<std::shared_ptr<Database>> Database::OpenUri(std::string_view uri) {
  Result<DatabaseOptions> options = ParseUri(uri);
  if (!options.ok()) return options.status();
  return Open(*options);
}

Database::Database(std::shared_ptr<DatabaseImpl> impl) : impl_(std::move(impl)) {}
Database::~Database() = default;

const DatabaseOptions& Database::options() const { return impl_->options(); }
const StoreLimits& Database::limits() const { return impl_->limits(); }

Result<std::unique_ptr<Store>> Database::OpenStore(std::string_view runner_name, const StoreOptions& options) {
  return DatabaseImpl::MakeStore(impl_, runner_name, options);
}

Result<std::vector<std::string>> Database::ListRunners() { return impl_->engine().ListRunners(); }

Status Database::DropRunner(std::string_view runner_name) {
  if (Status writable = impl_->CheckWritable(); !writable.ok()) return writable;
  if (runner_name.empty() || runner_name.size() > limits().max_runner_name_bytes) {
    return Status::InvalidArgument("runner name must be 1 to " + std::to_string(limits().max_runner_name_bytes) +
                                   " bytes");
  }
  return impl_->engine().DropRunner(runner_name);
}

Result<DatabaseStats> Database::Stats() { return impl_->engine().Stats(); }

Status Database::Refresh() { return impl_->engine().Refresh(); }

Status Database::Backup(const std::string& dest_dir) {
  if (dest_dir.empty()) return Status::InvalidArgument("backup: the destination directory is empty");
  if (dest_dir.find('\0') != std::string::npos) {
    return Status::InvalidArgument("backup: the destination directory contains a NUL byte");
  }
  // The engine works with the file system, whose library may throw (out of
  // memory): no exception crosses the API.
  try {
    return impl_->engine().Backup(dest_dir);
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("backup failed: ") + e.what());
  }
}

}  // namespace runic
