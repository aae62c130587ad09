#include "store/disk/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

namespace runic::internal {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMarkerName = "RUNIC";
constexpr const char* kLockName = "LOCK";
constexpr const char* kMagic = "runic-database";

std::string Errno(int err) { return std::strerror(err); }

Status WriteMarker(const std::string& dir) {
  const std::string tmp = dir + "/" + kMarkerName + ".tmp";
  const std::string content = std::string(kMagic) + "\nformat-version " + std::to_string(kFormatVersion) + "\n";
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

Status CheckMarker(const std::string& dir) {
  const std::string path = dir + "/" + kMarkerName;
  std::ifstream in(path);
  std::string magic, key;
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
  return Status::OK();
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
  if (!fs::exists(fs::path(dir) / kMarkerName)) {
    // Only an empty directory may become a database: never adopt someone
    // else's files. A lone marker.tmp is ours: a creation cut short.
    const fs::path tmp = fs::path(dir) / (std::string(kMarkerName) + ".tmp");
    std::vector<fs::path> entries;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end && entries.size() < 2; it.increment(ec)) {
      entries.push_back(it->path());
    }
    if (entries.size() == 1 && entries.front() == tmp) fs::remove(tmp, ec);
    bool empty = fs::is_empty(dir, ec);
    if (ec) return Status::IOError("cannot read directory '" + dir + "': " + ec.message());
    if (!empty) {
      return Status::IOError("'" + dir + "' is not empty and is not a Runic database (no RUNIC marker); "
                             "refusing to use it");
    }
    Status s = WriteMarker(dir);
    if (!s.ok()) return s;
  }
  Status s = CheckMarker(dir);
  if (!s.ok()) return s;

  const std::string lock_path = dir + "/" + kLockName;
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot open " + lock_path + ": " + Errno(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::InUse("database " + dir + " is in use by another process");
    }
    return Status::IOError("cannot lock " + lock_path + ": " + Errno(err));
  }
  return DataDir(dir, fd);
}

DataDir::DataDir(DataDir&& other) noexcept : path_(std::move(other.path_)), lock_fd_(other.lock_fd_) {
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
