#include "store/disk/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <vector>

namespace runic::internal {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMarkerName = "RUNIC";
constexpr const char* kMagic = "runic-database";

std::string Errno(int err) { return std::strerror(err); }

// Writes the marker atomically (temporary file, fsync, rename, fsync dir).
Status WriteMarker(const std::string& dir, bool ready) {
  const std::string tmp = dir + "/" + kMarkerName + ".tmp";
  const std::string content = std::string(kMagic) + "\nformat-version " + std::to_string(kFormatVersion) + "\nstate " +
                              (ready ? "ready" : "creating") + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot create " + tmp + ": " + Errno(errno));
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) && ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) return Status::IOError("cannot write " + tmp + ": " + Errno(err));
  if (::rename(tmp.c_str(), (dir + "/" + kMarkerName).c_str()) != 0) {
    return Status::IOError("cannot create the marker in " + dir + ": " + Errno(errno));
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status::OK();
}

// Reads the marker: whether the database finished being created, and (in
// *version) the format it was written in.
Result<bool> ReadMarker(const std::string& dir, int* version_out = nullptr) {
  const std::string path = dir + "/" + kMarkerName;
  std::ifstream in(path);
  std::string magic, key, state_key, state;
  int version = 0;
  if (!(in >> magic >> key >> version) || magic != kMagic || key != "format-version" || version < 1) {
    return Status::Corruption("the marker file " + path + " is damaged; expected '" + kMagic +
                              "' and a format version");
  }
  if (version > kFormatVersion) {
    return Status::InvalidArgument("database " + dir + " has format version " + std::to_string(version) +
                                   ", newer than this library reads (" + std::to_string(kFormatVersion) +
                                   "); open it with a newer Runic");
  }
  if (!(in >> state_key >> state) || state_key != "state" || (state != "ready" && state != "creating")) {
    return Status::Corruption("the marker file " + path + " is damaged; expected a state");
  }
  if (version_out != nullptr) *version_out = version;
  return state == "ready";
}

// The entries of `dir`, at most `max` of them.
std::vector<fs::path> Entries(const std::string& dir, std::size_t max, std::error_code& ec) {
  std::vector<fs::path> out;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end && out.size() < max; it.increment(ec)) {
    out.push_back(it->path());
  }
  return out;
}

// "pid N, name" of the process holding the lock of data directory `dir`,
// or "" when it cannot be told. The lock is a flock(2) on the directory,
// which fcntl(F_GETLK) does not report; nor may this process open the
// holder's RocksDB LOCK file to ask: closing any descriptor of a file drops
// every fcntl lock this process holds on it. /proc/locks lists the holders
// of both kinds of lock by device and inode, and needs no descriptor.
std::string LockHolder(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return "";
  std::ifstream locks("/proc/locks");
  std::string line;
  // Bounded: the table has one line per lock held on the machine.
  for (int n = 0; n < 100000 && std::getline(locks, line); ++n) {
    // "1: FLOCK  ADVISORY  WRITE 1234 fe:00:10953571 0 EOF"; waiters have
    // "->" after the number and hold nothing.
    std::istringstream in(line);
    std::string number, kind, mode, access, device;
    long pid = 0;
    if (!(in >> number >> kind) || kind == "->") continue;
    if (!(in >> mode >> access >> pid >> device) || pid <= 0) continue;
    // The device's major and minor numbers are in hex, the inode in decimal.
    unsigned major_no = 0, minor_no = 0;
    unsigned long long inode = 0;
    if (std::sscanf(device.c_str(), "%x:%x:%llu", &major_no, &minor_no, &inode) != 3) continue;
    if (major_no != major(st.st_dev) || minor_no != minor(st.st_dev) || inode != st.st_ino) continue;
    std::string name;
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::getline(comm, name);
    return "pid " + std::to_string(pid) + (name.empty() ? "" : ", " + name);
  }
  return "";
}

// " (pid N, name)" for an InUse message, so that whoever reads it knows
// which process to stop; "" when the holder cannot be told.
std::string HolderSuffix(const std::string& dir) {
  const std::string holder = LockHolder(dir);
  return holder.empty() ? "" : " (" + holder + ")";
}

}  // namespace

Result<DataDir> DataDir::Open(const std::string& dir, bool create_if_missing) {
  std::error_code ec;
  fs::file_status st = fs::status(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return Status::IOError("cannot use '" + dir + "' as a data directory: " + ec.message());
  }
  if (fs::exists(st) && !fs::is_directory(st)) {
    return Status::IOError("'" + dir + "' exists and is not a directory");
  }
  if (!fs::exists(st)) {
    if (!create_if_missing) return Status::NotFound("no database at '" + dir + "' (create_if_missing is false)");
    fs::path parent = fs::path(dir).parent_path();
    fs::create_directories(parent, ec);
    if (ec) return Status::IOError("cannot create '" + parent.string() + "': " + ec.message());
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::IOError("cannot create data directory '" + dir + "': " + Errno(errno));
    }
  }

  // The lock is on the directory itself, taken before anything in it is
  // read or written, so two processes creating one database cannot race.
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open data directory '" + dir + "': " + Errno(errno));
  DataDir locked(dir, fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status::InUse("database " + dir + " is in use by another process" + HolderSuffix(dir));
    }
    return Status::IOError("cannot lock '" + dir + "': " + Errno(errno));
  }

  const fs::path marker = fs::path(dir) / kMarkerName;
  if (!fs::exists(marker, ec)) {
    if (ec) return Status::IOError("cannot read directory '" + dir + "': " + ec.message());
    // Only an empty directory may become a database: never adopt someone
    // else's files. A lone marker.tmp is ours: a creation cut short.
    const fs::path tmp = fs::path(dir) / (std::string(kMarkerName) + ".tmp");
    std::vector<fs::path> entries = Entries(dir, 2, ec);
    if (!ec && entries.size() == 1 && entries.front() == tmp) {
      fs::remove(tmp, ec);
      entries.clear();
    }
    if (ec) return Status::IOError("cannot read directory '" + dir + "': " + ec.message());
    if (!entries.empty()) {
      return Status::IOError("'" + dir +
                             "' is not empty and is not a Runic database (no RUNIC marker); "
                             "refusing to use it");
    }
    if (!create_if_missing) return Status::NotFound("no database at '" + dir + "' (create_if_missing is false)");
    if (::chmod(dir.c_str(), 0700) != 0) return Status::IOError("cannot chmod '" + dir + "': " + Errno(errno));
    Status s = WriteMarker(dir, /*ready=*/false);
    if (!s.ok()) return s;
  }
  int version = 0;
  Result<bool> ready = ReadMarker(dir, &version);
  if (!ready.ok()) return ready.status();
  if (*ready && version < kFormatVersion) {
    // This library reads the older format and writes the newer one (format
    // 2: event counters carry the time of the last append): say so before
    // the first write, so that an older library refuses it rather than
    // misread it.
    Status s = WriteMarker(dir, /*ready=*/true);
    if (!s.ok()) return s;
  }
  locked.ready_ = *ready;
  return locked;
}

Result<DataDir> DataDir::OpenReadOnly(const std::string& dir) {
  std::error_code ec;
  fs::file_status st = fs::status(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return Status::IOError("cannot use '" + dir + "' as a data directory: " + ec.message());
  }
  if (!fs::exists(st)) return Status::NotFound("no database at '" + dir + "'");
  if (!fs::is_directory(st)) return Status::IOError("'" + dir + "' exists and is not a directory");
  if (!fs::exists(fs::path(dir) / kMarkerName, ec)) {
    if (ec) return Status::IOError("cannot read directory '" + dir + "': " + ec.message());
    std::vector<fs::path> entries = Entries(dir, 2, ec);
    if (ec) return Status::IOError("cannot read directory '" + dir + "': " + ec.message());
    // A lone marker.tmp: a creation under way, or cut short.
    const fs::path tmp = fs::path(dir) / (std::string(kMarkerName) + ".tmp");
    if (entries.empty() || (entries.size() == 1 && entries.front() == tmp)) {
      return Status::NotFound("no database at '" + dir + "' (the directory holds no RUNIC marker)");
    }
    return Status::IOError("'" + dir + "' is not a Runic database (no RUNIC marker)");
  }
  Result<bool> ready = ReadMarker(dir);
  if (!ready.ok()) return ready.status();
  // "creating": its engine files may not exist yet, and a reader must not
  // finish the creation for its owner.
  if (!*ready) return Status::NotFound("database " + dir + " is still being created");
  DataDir unlocked(dir, -1);
  unlocked.ready_ = true;
  return unlocked;
}

// Removes the directories above `dir` up to `top` that are empty (those a
// failed copy created), leaving any that hold something.
static void RemoveEmptyParents(const fs::path& dir, const fs::path& top) {
  std::error_code ec;
  if (dir == top) return;
  for (fs::path p = dir.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
    if (!fs::remove(p, ec) || p == top) break;  // remove() refuses a directory that is not empty
  }
}

Result<DataDir> DataDir::CreateForCopy(const std::string& dir) {
  std::error_code ec;
  fs::file_status st = fs::status(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return Status::IOError("cannot use '" + dir + "' for a backup: " + ec.message());
  }
  auto not_empty = [&] {
    return Status::InvalidArgument("'" + dir + "' is not empty; a backup goes into a missing or empty directory");
  };
  std::string created;
  if (fs::exists(st)) {
    if (!fs::is_directory(st)) return Status::InvalidArgument("'" + dir + "' exists and is not a directory");
    const bool empty = Entries(dir, 1, ec).empty();
    if (ec) return Status::IOError("cannot read directory '" + dir + "': " + ec.message());
    if (!empty) return not_empty();
  } else {
    // The topmost missing directory: what to remove should the copy fail.
    fs::path top(dir);
    for (fs::path p = top.parent_path(); !p.empty() && p != p.root_path() && !fs::exists(p, ec); p = p.parent_path()) {
      top = p;
    }
    fs::create_directories(fs::path(dir).parent_path(), ec);
    if (ec) return Status::IOError("cannot create '" + fs::path(dir).parent_path().string() + "': " + ec.message());
    if (::mkdir(dir.c_str(), 0700) != 0) {
      const int err = errno;
      RemoveEmptyParents(dir, top);           // never recursively: another process may be filling them now
      if (err == EEXIST) return not_empty();  // made by someone else meanwhile
      return Status::IOError("cannot create backup directory '" + dir + "': " + Errno(err));
    }
    created = top.string();
  }
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (!created.empty()) {
      fs::remove(dir, ec);
      RemoveEmptyParents(dir, created);
    }
    return Status::IOError("cannot open backup directory '" + dir + "': " + Errno(err));
  }
  DataDir copy(dir, fd);
  copy.created_ = created;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    copy.created_.clear();  // someone else's now: leave it
    if (err == EWOULDBLOCK) {
      return Status::InUse("backup directory " + dir + " is in use by another process" + HolderSuffix(dir));
    }
    return Status::IOError("cannot lock '" + dir + "': " + Errno(err));
  }
  // Checked again under the lock: a process that opened it as a database
  // meanwhile has written its marker.
  const bool empty = Entries(dir, 1, ec).empty();
  if (ec) return Status::IOError("cannot read directory '" + dir + "': " + ec.message());
  if (!empty) {
    copy.created_.clear();
    return not_empty();
  }
  if (created.empty() && ::chmod(dir.c_str(), 0700) != 0) {
    return Status::IOError("cannot chmod '" + dir + "': " + Errno(errno));
  }
  return copy;
}

void DataDir::DiscardCopy() {
  std::error_code ec;
  if (!created_.empty()) {
    fs::remove_all(path_, ec);  // ours: created and locked by CreateForCopy
    RemoveEmptyParents(path_, created_);
    created_.clear();
    return;
  }
  // The directory was there, empty: empty it again.
  std::vector<fs::path> entries = Entries(path_, std::numeric_limits<std::size_t>::max(), ec);
  for (const fs::path& p : entries) fs::remove_all(p, ec);
}

Status DataDir::MarkReady() {
  if (ready_) return Status::OK();
  Status s = WriteMarker(path_, /*ready=*/true);
  if (s.ok()) ready_ = true;
  return s;
}

DataDir::DataDir(DataDir&& other) noexcept
    : path_(std::move(other.path_)),
      lock_fd_(other.lock_fd_),
      ready_(other.ready_),
      created_(std::move(other.created_)) {
  other.lock_fd_ = -1;
}

DataDir::~DataDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

std::uint64_t DirectoryBytes(const std::string& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      std::uint64_t size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

}  // namespace runic::internal
