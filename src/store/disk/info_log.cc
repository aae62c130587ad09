#include "store/disk/info_log.h"

#include <sys/time.h>

#include <cstdarg>
#include <ctime>

namespace runic::internal {

InfoLog::InfoLog(const std::string& path) {
  std::rename(path.c_str(), (path + ".old").c_str());  // fails harmlessly when there is none
  file_ = std::fopen(path.c_str(), "ae");
}

InfoLog::~InfoLog() {
  if (file_ != nullptr) std::fclose(file_);
}

void InfoLog::Logv(const char* format, va_list ap) {
  if (file_ == nullptr) return;
  struct timeval now;
  ::gettimeofday(&now, nullptr);
  struct tm t;
  ::localtime_r(&now.tv_sec, &t);
  std::lock_guard lock(mu_);
  // Errors (a full disk) are ignored: the log is informational.
  std::fprintf(file_, "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour,
               t.tm_min, t.tm_sec, static_cast<long>(now.tv_usec));
  std::vfprintf(file_, format, ap);
  std::fputc('\n', file_);
  std::fflush(file_);
  std::clearerr(file_);
}

void InfoLog::Flush() {
  std::lock_guard lock(mu_);
  if (file_ != nullptr) std::fflush(file_);
}

}  // namespace runic::internal
