// RocksDB's informational log (<dir>/rocksdb/LOG), written so that a failed
// write is ignored. RocksDB's own file logger asserts when a write to it
// failed before (Debian builds RocksDB with assertions), so on a full disk
// it would abort the process; this one just drops the line.
#ifndef RUNIC_SRC_STORE_DISK_INFO_LOG_H_
#define RUNIC_SRC_STORE_DISK_INFO_LOG_H_

#include <rocksdb/env.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace runic::internal {

class InfoLog final : public rocksdb::Logger {
 public:
  // Opens `path` for appending, after moving a previous log to path + ".old"
  // (one generation is kept). A log that cannot be opened writes nothing.
  explicit InfoLog(const std::string& path);
  ~InfoLog() override;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override;
  void Flush() override;

 private:
  std::mutex mu_;
  std::FILE* file_ = nullptr;
};

}  // namespace runic::internal

#endif  // RUNIC_SRC_STORE_DISK_INFO_LOG_H_
