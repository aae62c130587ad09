// backup, restore, migrate: copies of whole stores. backup and restore use
// RocksDB's checkpoint facility through Database::Backup (disk to disk);
// migrate copies runner by runner through the store contract, so it works
// between any engines (memory, disk, etcd), and can be redone after an
// interruption. An etcd database is backed up with migrate (to disk) and
// restored from a disk store as migrate does, into an empty database.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>

#include "commands.h"
#include "format.h"
#include "support/progress.h"

namespace runic::cli {
namespace {

namespace fs = std::filesystem;
using tools::Progress;

std::uint64_t TreeBytes(const std::string& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

// FNV-1a, 64 bits: enough to tell that two copies differ.
class Checksum {
 public:
  void Add(std::string_view bytes) {
    Mix(bytes.size());
    for (char c : bytes) Byte(static_cast<unsigned char>(c));
  }
  void Mix(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) Byte(static_cast<unsigned char>(v >> (8 * i)));
  }
  std::uint64_t value() const { return h_; }

 private:
  void Byte(unsigned char b) {
    h_ ^= b;
    h_ *= 1099511628211ull;
  }
  std::uint64_t h_ = 14695981039346656037ull;
};

// What a runner holds, counted and summed (ids, counters, times, index
// entries, inboxes, every event, log, snapshot and fact), to compare a copy
// with its source.
struct RunnerDigest {
  std::uint64_t workflows = 0, events = 0, facts = 0;
  std::uint64_t checksum = 0;
  bool operator==(const RunnerDigest&) const = default;
};

// `meter` counts each workflow and fact read.
RunnerDigest Digest(Session& session, Store& store, Progress& meter) {
  RunnerDigest d;
  Checksum sum;
  ListOptions page_options;
  for (;;) {
    Result<ListPage> page = store.List(page_options);
    if (!page.ok()) session.Fail(page.status(), "listing workflows");
    for (const std::string& id : page->ids) {
      Result<WorkflowSummary> w = store.Describe(id);
      if (!w.ok()) session.Fail(w.status(), "describing '" + id + "'");
      ++d.workflows;
      meter.Add(1);
      sum.Add(id);
      sum.Mix(w->cursor);
      sum.Mix(w->trimmed);
      sum.Mix(static_cast<std::uint64_t>(w->updated_at.time_since_epoch().count()));
      sum.Add(w->state_tag);
      sum.Mix(w->due);
      sum.Mix(w->inbox_last);
      sum.Mix(w->inbox_consumed);
      sum.Mix(w->inbox_closed ? 1 : 0);
      for (std::uint64_t after = w->inbox_consumed; after < w->inbox_last;) {
        Result<InboxPage> inbox = store.ReadInbox(id, {after, 1000});
        if (!inbox.ok()) session.Fail(inbox.status(), "reading the inbox of '" + id + "'");
        if (inbox->entries.empty()) break;
        for (const InboxEntry& e : inbox->entries) {
          sum.Mix(e.sequence);
          sum.Add(e.bytes);
        }
        after = inbox->entries.back().sequence;
      }
      if (w->has_log) {
        Result<LogRecord> log = store.Load(id);
        if (!log.ok()) session.Fail(log.status(), "loading the log of '" + id + "'");
        sum.Add(log->log);
      }
      if (w->has_snapshot) {
        Result<Snapshot> snap = store.LoadSnapshot(id);
        if (!snap.ok()) session.Fail(snap.status(), "loading the snapshot of '" + id + "'");
        sum.Mix(snap->cursor);
        sum.Add(snap->bytes);
      }
      if (w->events == 0) continue;
      Result<std::unique_ptr<EventIterator>> it = store.Stream(id, {w->trimmed});
      if (!it.ok()) session.Fail(it.status(), "reading the events of '" + id + "'");
      for (; (*it)->Valid(); (*it)->Next(), ++d.events) {
        sum.Mix((*it)->sequence());
        sum.Add((*it)->value());
      }
      if (!(*it)->status().ok()) session.Fail((*it)->status(), "reading the events of '" + id + "'");
    }
    if (!page->more) break;
    page_options.start_after = page->ids.back();
  }
  page_options = {};
  for (;;) {
    Result<ListPage> page = store.ListFacts(page_options);
    if (!page.ok()) session.Fail(page.status(), "listing facts");
    for (const std::string& hash : page->ids) {
      Result<std::string> value = store.LoadFact(hash);
      if (!value.ok()) session.Fail(value.status(), "loading fact " + hash);
      ++d.facts;
      meter.Add(1);
      sum.Add(hash);
      sum.Add(*value);
    }
    if (!page->more) break;
    page_options.start_after = page->ids.back();
  }
  d.checksum = sum.value();
  return d;
}

std::vector<std::string> RunnersOf(Session& session) {
  Result<std::vector<std::string>> runners = session.db().ListRunners();
  if (!runners.ok()) session.Fail(runners.status(), "listing the runners");
  return *runners;
}

std::unique_ptr<Store> OpenRunner(Session& session, const std::string& runner) {
  Result<std::unique_ptr<Store>> store = session.db().OpenStore(runner);
  if (!store.ok()) session.Fail(store.status(), "opening runner '" + runner + "'");
  return std::move(*store);
}

// How many workflows (or facts) `store` holds: their ids listed, no value
// read.
std::uint64_t CountIds(Session& session, Store& store, bool facts = false) {
  std::uint64_t n = 0;
  ListOptions page_options;
  for (;;) {
    Result<ListPage> page = facts ? store.ListFacts(page_options) : store.List(page_options);
    if (!page.ok()) session.Fail(page.status(), facts ? "listing facts" : "listing workflows");
    n += page->ids.size();
    if (!page->more) return n;
    page_options.start_after = page->ids.back();
  }
}

// Compares every runner of two sessions; prints and returns the exit code.
int Verify(Session& from, Session& to) {
  std::uint64_t workflows = 0, events = 0, facts = 0;
  for (const std::string& runner : RunnersOf(from)) {
    std::unique_ptr<Store> a = OpenRunner(from, runner), b = OpenRunner(to, runner);
    // Reading both whole takes as long as the copy did: say so, and how far.
    const std::uint64_t ids = CountIds(from, *a), fact_ids = CountIds(from, *a, /*facts=*/true);
    std::fprintf(stderr, "verify %s: reading its %llu workflows and %llu facts in the source, then in the copy\n",
                 SafeLine(runner).c_str(), static_cast<unsigned long long>(ids),
                 static_cast<unsigned long long>(fact_ids));
    Progress meter("verify " + runner, "records", 2 * (ids + fact_ids));
    const RunnerDigest da = Digest(from, *a, meter), db = Digest(to, *b, meter);
    meter.Finish();
    if (!(da == db)) {
      throw Failure(to.target().Where() + ": runner '" + runner + "' differs from " + from.target().uri + ": " +
                    std::to_string(db.workflows) + " workflows, " + std::to_string(db.events) + " events, " +
                    std::to_string(db.facts) + " facts against " + std::to_string(da.workflows) + ", " +
                    std::to_string(da.events) + ", " + std::to_string(da.facts) + " (or different bytes)");
    }
    workflows += da.workflows;
    events += da.events;
    facts += da.facts;
  }
  std::printf("verified: %llu workflows, %llu events, %llu facts; checksums match\n",
              static_cast<unsigned long long>(workflows), static_cast<unsigned long long>(events),
              static_cast<unsigned long long>(facts));
  return kExitOk;
}

// Copies one workflow unless the destination already holds the same;
// returns whether it copied.
bool CopyWorkflow(Session& from, Store& src, Session& to, Store& dst, const std::string& id) {
  Result<WorkflowSummary> w = src.Describe(id);
  if (w.status().IsNotFound()) return false;  // deleted since the listing
  if (!w.ok()) from.Fail(w.status(), "describing '" + id + "'");
  Result<WorkflowSummary> there = dst.Describe(id);
  if (there.ok() && there->cursor == w->cursor && there->trimmed == w->trimmed &&
      there->event_bytes == w->event_bytes && there->has_log == w->has_log && there->log_bytes == w->log_bytes &&
      there->has_snapshot == w->has_snapshot && there->snapshot_cursor == w->snapshot_cursor &&
      there->snapshot_bytes == w->snapshot_bytes && there->updated_at == w->updated_at &&
      there->state_tag == w->state_tag && there->due == w->due && there->inbox_last == w->inbox_last &&
      there->inbox_consumed == w->inbox_consumed && there->inbox_closed == w->inbox_closed) {
    return false;  // copied by an earlier, interrupted run
  }
  WorkflowImport import;
  import.cursor = w->cursor;
  import.trimmed = w->trimmed;
  import.updated_at = w->updated_at;
  import.state_tag = w->state_tag;
  import.due = w->due;
  import.inbox_last = w->inbox_last;
  import.inbox_consumed = w->inbox_consumed;
  import.inbox_closed = w->inbox_closed;
  // The pending inbox entries, in pages the destination accepts.
  for (std::uint64_t after = w->inbox_consumed; after < w->inbox_last;) {
    Result<InboxPage> page = src.ReadInbox(id, {after, dst.limits().max_inbox_entries});
    if (!page.ok()) from.Fail(page.status(), "reading the inbox of '" + id + "'");
    if (page->entries.empty()) break;  // consumed meanwhile: ImportWorkflow names what is missing
    Status s = dst.ImportInbox(id, page->entries);
    if (!s.ok()) to.Fail(s, "importing the inbox of '" + id + "'");
    after = page->entries.back().sequence;
  }
  if (w->has_log) {
    Result<LogRecord> log = src.Load(id);
    if (!log.ok()) from.Fail(log.status(), "loading the log of '" + id + "'");
    import.log = std::move(*log);
  }
  if (w->has_snapshot) {
    Result<Snapshot> snap = src.LoadSnapshot(id);
    if (!snap.ok()) from.Fail(snap.status(), "loading the snapshot of '" + id + "'");
    import.snapshot = std::move(*snap);
  }
  if (w->events > 0) {
    Result<std::unique_ptr<EventIterator>> it = src.Stream(id, {w->trimmed});
    if (!it.ok()) from.Fail(it.status(), "reading the events of '" + id + "'");
    const StoreLimits& lim = dst.limits();
    std::vector<std::string> chunk;
    std::size_t bytes = 0;
    std::uint64_t first = w->trimmed + 1;
    auto flush = [&] {
      if (chunk.empty()) return;
      std::vector<std::string_view> views(chunk.begin(), chunk.end());
      Status s = dst.ImportEvents(id, first, views);
      if (!s.ok()) to.Fail(s, "importing the events of '" + id + "'");
      first += chunk.size();
      chunk.clear();
      bytes = 0;
    };
    for (; (*it)->Valid(); (*it)->Next()) {
      std::string_view e = (*it)->value();
      if (chunk.size() + 1 > lim.max_batch_events || bytes + e.size() > lim.max_batch_bytes) flush();
      chunk.emplace_back(e);
      bytes += e.size();
    }
    if (!(*it)->status().ok()) from.Fail((*it)->status(), "reading the events of '" + id + "'");
    flush();
  }
  Status s = dst.ImportWorkflow(id, import);
  if (!s.ok()) to.Fail(s, "importing '" + id + "'");
  return true;
}

// Database::Backup of `from` into `dest`, on a thread, while a bar follows
// the bytes written so far against the source's size on disk.
Status BackupWithProgress(Session& from, const std::string& what, const std::string& dest) {
  Result<DatabaseStats> stats = from.db().Stats();
  Progress progress(what, "bytes", stats.ok() ? stats->disk_bytes : 0);
  std::future<Status> copied = std::async(std::launch::async, [&] { return from.db().Backup(dest); });
  while (copied.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) progress.Set(TreeBytes(dest));
  Status s = copied.get();
  if (s.ok()) {
    progress.Set(TreeBytes(dest));
    progress.Finish();
  } else {
    progress.Abandon();
  }
  return s;
}

// Deletes from `dst` the workflows and facts `src` no longer has (deleted
// there since an earlier, interrupted run); returns how many workflows.
std::uint64_t RemoveGone(Session& to, Store& src, Store& dst) {
  std::uint64_t removed = 0;
  for (bool facts : {false, true}) {
    ListOptions page_options;
    for (;;) {
      Result<ListPage> page = facts ? dst.ListFacts(page_options) : dst.List(page_options);
      if (!page.ok()) to.Fail(page.status(), "listing the copy");
      for (const std::string& key : page->ids) {
        bool gone = false;
        if (facts) {
          gone = src.LoadFact(key).status().IsNotFound();
        } else {
          Result<bool> exists = src.Exists(key);
          gone = exists.ok() && !*exists;
        }
        if (!gone) continue;
        Status s = facts ? dst.DeleteFact(key) : dst.Delete(key);
        if (!s.ok()) to.Fail(s, "removing '" + key + "' from the copy");
        removed += facts ? 0 : 1;
      }
      if (!page->more) break;
      page_options.start_after = page->ids.back();
    }
  }
  return removed;
}

// A disk database's directory as Database::Open resolves it ("disk://"
// alone: RUNIC_DIR, else ./runic-data).
std::string DiskDir(const DatabaseOptions& o) {
  std::string dir = o.dir;
  if (dir.empty()) {
    const char* env = std::getenv("RUNIC_DIR");
    dir = env != nullptr && *env != '\0' ? env : "runic-data";
  }
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(dir), ec);
  return ec ? fs::absolute(dir).lexically_normal().string() : p.string();
}

// Whether two URIs name one database (unparsable ones: no; the Session says
// what is wrong with them).
bool SameDatabase(const std::string& a, const std::string& b) {
  Result<DatabaseOptions> x = Database::ParseUri(a), y = Database::ParseUri(b);
  if (!x.ok() || !y.ok()) return false;
  if (!x->nodes.empty() || !y->nodes.empty()) {
    std::vector<std::string> nx = x->nodes, ny = y->nodes;
    std::sort(nx.begin(), nx.end());
    std::sort(ny.begin(), ny.end());
    auto name = [](const std::string& n) { return n.empty() ? std::string("runic") : n; };
    return nx == ny && name(x->dir) == name(y->dir);
  }
  if (x->disc_copies != y->disc_copies) return false;
  return x->disc_copies ? DiskDir(*x) == DiskDir(*y) : x->dir == y->dir;
}

// Copies every runner of `from` into `to`: what is there already stays,
// what the source no longer has is removed. `what` names the progress.
void CopyRunners(Session& from, Session& to, const std::string& what, bool verbose) {
  for (const std::string& runner : RunnersOf(from)) {
    std::unique_ptr<Store> src = OpenRunner(from, runner), dst = OpenRunner(to, runner);
    Result<StoreStats> stats = src->Stats();
    if (!stats.ok()) from.Fail(stats.status(), "counting runner '" + runner + "'");
    {
      Progress progress(what + " " + runner + " facts", "facts", stats->facts);
      ListOptions page_options;
      for (;;) {
        Result<ListPage> page = src->ListFacts(page_options);
        if (!page.ok()) from.Fail(page.status(), "listing facts");
        for (const std::string& hash : page->ids) {
          Result<std::string> value = src->LoadFact(hash);
          if (!value.ok()) from.Fail(value.status(), "loading fact " + hash);
          Status s = dst->SaveFact(hash, *value);  // idempotent: content-addressed
          if (!s.ok()) to.Fail(s, "saving fact " + hash);
          progress.Add(1);
        }
        if (!page->more) break;
        page_options.start_after = page->ids.back();
      }
    }
    Progress progress(what + " " + runner, "workflows", CountIds(from, *src));
    ListOptions page_options;
    std::uint64_t copied = 0, kept = 0;
    for (;;) {
      Result<ListPage> page = src->List(page_options);
      if (!page.ok()) from.Fail(page.status(), "listing workflows");
      for (const std::string& id : page->ids) {
        if (CopyWorkflow(from, *src, to, *dst, id)) {
          ++copied;
          if (verbose) std::printf("copied %s %s\n", SafeLine(runner).c_str(), SafeLine(id).c_str());
        } else {
          ++kept;
        }
        std::fflush(stdout);
        progress.Add(1);
      }
      if (!page->more) break;
      page_options.start_after = page->ids.back();
    }
    progress.Finish();
    const std::uint64_t removed = RemoveGone(to, *src, *dst);
    std::printf("runner %s: %llu workflows copied, %llu already there, %llu removed (gone from the source)\n",
                SafeLine(runner).c_str(), static_cast<unsigned long long>(copied),
                static_cast<unsigned long long>(kept), static_cast<unsigned long long>(removed));
  }
}

}  // namespace

int Backup(const Target& t, const std::string& dest) {
  if (IsEtcdUri(t.uri) && Database::ParseUri(t.uri).ok()) {
    throw Failure(t.Where() + ": backup copies disk stores only; copy an etcd database with runic migrate --from " +
                  Shown(t.uri) + " --to disk:///DIR (a disk store, which runic restore takes back), or the whole " +
                  "cluster with etcdctl snapshot save FILE");
  }
  Session session(t, Access::kRead);
  const auto start = std::chrono::steady_clock::now();
  Status s = BackupWithProgress(session, "backup", dest);
  if (!s.ok()) session.Fail(s, "backing up to " + dest);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("backup of %s: %s, %.1f MiB in %.1f s; restore it with: runic restore %s --store disk:///DIR\n",
              SafeLine(Shown(t.uri)).c_str(), dest.c_str(), static_cast<double>(TreeBytes(dest)) / (1 << 20), secs,
              dest.c_str());
  return kExitOk;
}

int Restore(const Target& t, const std::string& source) {
  Result<DatabaseOptions> to = Database::ParseUri(t.uri);
  if (!to.ok()) throw Failure(t.Where() + ": " + to.status().message(), kExitUsage);
  if (!to->disc_copies) throw Failure(t.Where() + ": restore writes a disk store; for memory: use migrate", kExitUsage);
  Target from{"disk://" + fs::absolute(source).string(), ""};
  if (!to->nodes.empty()) {
    // Into etcd: the backup's runners copied through the store contract,
    // into a database that holds none yet (as a disk restore wants an empty
    // directory), then verified.
    Session backup(from, Access::kRead);
    Session into(t, Access::kCreate);
    std::vector<std::string> there = RunnersOf(into);
    if (!there.empty()) {
      std::string names;
      for (const std::string& r : there) names += (names.empty() ? "" : ", ") + r;
      throw Failure(t.Where() + ": restore needs an empty database, and this one has runners (" + names +
                    "); name a new one (etcd://.../NAME), drop them first, or merge with runic migrate --from " +
                    from.uri);
    }
    CopyRunners(backup, into, "restore", false);
    std::printf("restored %s into etcd database '%s'\n", SafeLine(source).c_str(),
                SafeLine(into.db().options().dir).c_str());
    return Verify(backup, into);
  }
  if (to->dir.empty()) {  // "disk://": the default directory, as Database::Open resolves it
    const char* env = std::getenv("RUNIC_DIR");
    to->dir = fs::absolute(env != nullptr && *env != '\0' ? env : "runic-data").string();
  }
  Session backup(from, Access::kRead);
  Status s = BackupWithProgress(backup, "restore", to->dir);
  if (!s.ok()) backup.Fail(s, "restoring into " + to->dir);
  std::printf("restored %s into %s\n", source.c_str(), to->dir.c_str());
  Session restored(t, Access::kRead);
  return Verify(backup, restored);
}

int Migrate(const std::string& from_uri, const std::string& to_uri, bool verbose) {
  if (Result<DatabaseOptions> to = Database::ParseUri(to_uri); to.ok() && !to->disc_copies && to->nodes.empty()) {
    // A memory database lives in runic's process: the copy, "verified",
    // would be gone the moment runic exits.
    throw Failure("store " + Shown(to_uri) +
                      ": InvalidArgument: migrate --to a memory database, which lives only in this process: the "
                      "copy would vanish when runic exits; copy into a disk:// or etcd:// database",
                  kExitUsage);
  }
  if (SameDatabase(from_uri, to_uri)) {
    throw Failure("--from " + Shown(from_uri) + " and --to " + Shown(to_uri) + " name the same database", kExitUsage);
  }
  Session from(Target{from_uri, ""}, Access::kRead);
  Session to(Target{to_uri, ""}, Access::kCreate);
  CopyRunners(from, to, "migrate", verbose);
  return Verify(from, to);
}

}  // namespace runic::cli
