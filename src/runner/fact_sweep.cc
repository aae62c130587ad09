// SweepFacts (runic/gc.h): a mark of what every workflow names, then the
// unnamed facts deleted a batch at a time, each batch journalled first and
// checked after.
//
// Why the check after the delete makes it safe beside writers: a Runner
// writes a fact in the same atomic write as the first event of a workflow
// that names it. So an event appended after the mark read its workflow
// either names a fact that workflow named before (marked: never deleted),
// or carries the fact itself. When it carried it before the delete, the
// delete removed what it wrote: the check, which reads every event appended
// since the mark, finds it and puts the value back from the journal. When
// it carried it after, it wrote the fact again itself.
//
// The journal: records of (u32 hash length, hash, u32 value length, value,
// 64 hex bytes of SHA-256 over hash, 0x00, value), little-endian, written and
// synced (with its directory) before the batch's delete, removed once the
// check is done. A record cut short at the end was being written when the
// sweep stopped: nothing of it was deleted yet.
#include "runic/gc.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "runner/hash.h"
#include "runner/history_codec.h"

namespace runic {
namespace {

constexpr int kMaxPages = 1000000;  // bounds every listing loop
constexpr std::size_t kMaxBatch = 100000;

using Names = std::set<std::string, std::less<>>;

// Adds what workflow `id` names now to `names`; its cursor to *cursor.
// kNotFound: deleted meanwhile.
Status AddNames(Store& store, const std::string& id, Names* names, std::uint64_t* cursor) {
  Result<internal::LoadedHistory> loaded = internal::LoadHistory(store, id, [&](HistoryEvent&& e) {
    if (!e.fact.empty()) names->insert(std::move(e.fact));
    if (!e.root.empty()) names->insert(std::move(e.root));
    for (std::string& p : e.parents) names->insert(std::move(p));
  });
  if (!loaded.ok()) return loaded.status();
  const internal::HistoryState& s = loaded->state;
  names->insert(s.fingerprint);  // its definition's structure
  for (const internal::FactRecord& f : s.facts) {
    names->insert(f.hash);
    if (!f.root.empty()) names->insert(f.root);
    names->insert(f.parents.begin(), f.parents.end());
  }
  names->insert(s.fact_hashes.begin(), s.fact_hashes.end());
  for (const internal::HistoryState::Signal& g : s.signals) names->insert(g.fact);
  *cursor = s.cursor;
  return Status::OK();
}

// What the sweep knows of the workflows: the cursor each was read at.
struct Mark {
  Names names;
  std::map<std::string, std::uint64_t, std::less<>> cursors;
};

// Reads every workflow the mark has not read at its current cursor (all of
// them the first time; afterwards those appended to, or new), adding what
// they name. *read counts the histories read.
Status Refresh(Store& store, Mark* mark, std::uint64_t* read) {
  ListOptions o;
  for (int page = 0; page < kMaxPages; ++page) {
    Result<ListPage> listed = store.List(o);
    if (!listed.ok()) return listed.status();
    for (const std::string& id : listed->ids) {
      auto known = mark->cursors.find(id);
      if (known != mark->cursors.end()) {
        Result<WorkflowHead> head = store.Peek(id);
        if (head.status().IsNotFound()) continue;
        if (!head.ok()) return head.status();
        if (head->cursor == known->second) continue;
      }
      std::uint64_t cursor = 0;
      Status s = AddNames(store, id, &mark->names, &cursor);
      if (s.IsNotFound()) continue;
      if (!s.ok()) return s.Annotate("the fact sweep reading what workflow '" + id + "' names");
      mark->cursors[id] = cursor;
      ++*read;
    }
    if (!listed->more || listed->ids.empty()) return Status::OK();
    o.start_after = listed->ids.back();
  }
  return Status::OK();
}

struct JournalRecord {
  std::string hash, value;
};

std::string Checksum(const JournalRecord& r) { return internal::Sha256Hex(r.hash + '\0' + r.value); }

void PutU32(std::string* out, std::size_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

Status IoError(const std::string& what, const std::string& path) {
  return Status::IOError(what + " the fact sweep's journal " + path + ": " + std::strerror(errno));
}

Status SyncDirectoryOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("opening the directory of", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::OK() : IoError("syncing the directory of", path);
}

Status WriteJournal(const std::string& path, const std::vector<JournalRecord>& records) {
  std::string bytes;
  for (const JournalRecord& r : records) {
    PutU32(&bytes, r.hash.size());
    bytes += r.hash;
    PutU32(&bytes, r.value.size());
    bytes += r.value;
    bytes += Checksum(r);
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("creating", path);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t k = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      ::close(fd);
      return IoError("writing", path);
    }
    done += static_cast<std::size_t>(k);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return IoError("syncing", path);
  }
  ::close(fd);
  return SyncDirectoryOf(path);
}

// The records of a journal; kNotFound when there is none.
Result<std::vector<JournalRecord>> ReadJournal(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return Status::NotFound("no journal");
  if (fd < 0) return IoError("opening", path);
  std::string bytes;
  char buf[65536];
  for (;;) {
    const ssize_t k = ::read(fd, buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      ::close(fd);
      return IoError("reading", path);
    }
    if (k == 0) break;
    bytes.append(buf, static_cast<std::size_t>(k));
  }
  ::close(fd);
  std::vector<JournalRecord> records;
  std::size_t at = 0;
  auto take = [&](std::size_t n, std::string* out) {
    if (bytes.size() - at < n) return false;
    out->assign(bytes, at, n);
    at += n;
    return true;
  };
  auto take_u32 = [&](std::size_t* v) {
    std::string b;
    if (!take(4, &b)) return false;
    *v = 0;
    for (int i = 3; i >= 0; --i) *v = (*v << 8) | static_cast<unsigned char>(b[static_cast<std::size_t>(i)]);
    return true;
  };
  while (at < bytes.size()) {
    JournalRecord r;
    std::size_t n = 0;
    std::string sum;
    // Cut short at the end: written when the sweep stopped, never deleted.
    if (!take_u32(&n) || !take(n, &r.hash) || !take_u32(&n) || !take(n, &r.value) || !take(64, &sum)) break;
    if (sum != Checksum(r)) {
      return Status::Corruption("the fact sweep's journal " + path + " is damaged at record " +
                                std::to_string(records.size() + 1) + "; nothing was deleted");
    }
    records.push_back(std::move(r));
  }
  return records;
}

Status RemoveJournal(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return IoError("removing", path);
  return SyncDirectoryOf(path);
}

// Puts back the records `mark` names; counts them in *restored.
Status PutBack(Store& store, const std::vector<JournalRecord>& records, const Mark& mark, std::uint64_t* restored) {
  for (const JournalRecord& r : records) {
    if (!mark.names.contains(r.hash)) continue;
    if (Status s = store.SaveFact(r.hash, r.value); !s.ok()) return s.Annotate("the fact sweep putting a fact back");
    ++*restored;
  }
  return Status::OK();
}

// Journals, deletes and checks one batch of unnamed facts.
Status SweepBatch(Store& store, const FactSweepOptions& options, const std::vector<std::string>& hashes, Mark* mark,
                  FactSweepReport* report) {
  std::vector<JournalRecord> records;
  for (const std::string& h : hashes) {
    if (mark->names.contains(h)) continue;  // named by a workflow read since it was listed
    Result<std::string> value = store.LoadFact(h);
    if (value.status().IsNotFound()) continue;  // deleted meanwhile
    if (!value.ok()) return value.status();
    // A definition's structure (named by its fingerprint, the SHA-256 of
    // its bytes) stays: a runner stores each once, not with every start.
    if (internal::Sha256Hex(*value) == h) {
      ++report->structures;
      continue;
    }
    records.push_back({h, std::move(*value)});
  }
  if (records.empty()) return Status::OK();
  if (Status s = WriteJournal(options.journal_path, records); !s.ok()) return s;
  for (const JournalRecord& r : records) {
    if (Status s = store.DeleteFact(r.hash); !s.ok()) return s;  // the journal stays: the next sweep checks
  }
  if (Status s = Refresh(store, mark, &report->workflows); !s.ok()) return s;
  std::uint64_t restored = 0;
  if (Status s = PutBack(store, records, *mark, &restored); !s.ok()) return s;
  report->restored += restored;
  report->deleted += records.size() - restored;
  return RemoveJournal(options.journal_path);
}

}  // namespace

Result<FactSweepReport> SweepFacts(Store& store, const FactSweepOptions& options) {
  if (options.journal_path.empty()) return Status::InvalidArgument("the fact sweep needs a journal path");
  if (options.batch == 0 || options.batch > kMaxBatch) {
    return Status::InvalidArgument("the fact sweep's batch is 1 to " + std::to_string(kMaxBatch) + " facts, not " +
                                   std::to_string(options.batch));
  }
  Result<std::vector<JournalRecord>> left = ReadJournal(options.journal_path);
  if (!left.ok() && !left.status().IsNotFound()) return left.status();

  FactSweepReport report;
  Mark mark;
  if (Status s = Refresh(store, &mark, &report.workflows); !s.ok()) return s;
  // A sweep cut short: what its batch deleted and a workflow names goes
  // back before anything else is deleted.
  if (left.ok()) {
    if (Status s = PutBack(store, *left, mark, &report.recovered); !s.ok()) return s;
    if (Status s = RemoveJournal(options.journal_path); !s.ok()) return s;
  }

  std::vector<std::string> batch;
  ListOptions o;
  for (int page = 0; page < kMaxPages; ++page) {
    Result<ListPage> facts = store.ListFacts(o);
    if (!facts.ok()) return facts.status();
    for (const std::string& h : facts->ids) {
      ++report.facts;
      if (mark.names.contains(h)) {
        ++report.referenced;
        continue;
      }
      if (options.max_deletes != 0 && report.deleted + batch.size() >= options.max_deletes) {
        report.complete = false;
        break;
      }
      batch.push_back(h);
      if (batch.size() == options.batch) {
        if (Status s = SweepBatch(store, options, batch, &mark, &report); !s.ok()) return s;
        batch.clear();
      }
    }
    if (!report.complete || !facts->more || facts->ids.empty()) break;
    o.start_after = facts->ids.back();
  }
  if (Status s = SweepBatch(store, options, batch, &mark, &report); !s.ok()) return s;
  return report;
}

}  // namespace runic
