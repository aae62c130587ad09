// runners, ls, show, stats: read-only; on disk they open the database as a
// RocksDB secondary, so they work while a service holds it; on etcd as a
// client that refuses writes.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include "commands.h"
#include "event_json.h"

namespace runic::cli {
namespace {

std::atomic<bool> interrupted{false};

void OnInterrupt(int) { interrupted = true; }

void PrintJson(const Json& j) { std::printf("%s\n", Dump(j).c_str()); }

Json StatsJson(const StoreStats& s) {
  return Json{{"workflows_with_events", s.workflows_with_events},
              {"events", s.events},
              {"event_bytes", s.event_bytes},
              {"logs", s.logs},
              {"log_bytes", s.log_bytes},
              {"snapshots", s.snapshots},
              {"snapshot_bytes", s.snapshot_bytes},
              {"facts", s.facts},
              {"fact_bytes", s.fact_bytes}};
}

Json SummaryJson(const std::string& id, const WorkflowSummary& w) {
  return Json{{"id", id},
              {"cursor", w.cursor},
              {"events", w.events},
              {"trimmed_to", w.trimmed},
              {"event_bytes", w.event_bytes},
              {"updated_at", IsoTime(w.updated_at)},
              {"log_bytes", w.has_log ? Json(w.log_bytes) : Json()},
              {"snapshot_cursor", w.has_snapshot ? Json(w.snapshot_cursor) : Json()},
              {"snapshot_bytes", w.has_snapshot ? Json(w.snapshot_bytes) : Json()}};
}

// Prints the events of `id` from `from` on, at most `limit` (0: all);
// returns the last sequence printed (or from - 1).
std::uint64_t PrintEvents(Session& session, const std::string& id, std::uint64_t from, std::uint64_t limit) {
  Store& store = session.store();
  Result<std::unique_ptr<EventIterator>> it = store.Stream(id, {from > 0 ? from - 1 : 0});
  if (it.status().IsTrimmed()) {
    session.Fail(it.status(), "reading the events of '" + id + "' (use --from " +
                                  std::to_string(it.status().first_kept_sequence()) + ")");
  }
  if (!it.ok()) session.Fail(it.status(), "reading the events of '" + id + "'");
  std::uint64_t last = from > 0 ? from - 1 : 0, shown = 0;
  for (; (*it)->Valid() && (limit == 0 || shown < limit); (*it)->Next(), ++shown) {
    PrintJson(EventJson((*it)->sequence(), (*it)->value(), store));
    last = (*it)->sequence();
  }
  if (!(*it)->status().ok()) session.Fail((*it)->status(), "reading the events of '" + id + "'");
  std::fflush(stdout);
  return last;
}

}  // namespace

int Runners(const Target& t, bool json) {
  Session session(t, Access::kRead);
  Result<std::vector<std::string>> runners = session.db().ListRunners();
  if (!runners.ok()) session.Fail(runners.status(), "listing the runners");
  Json all = Json::array();
  std::vector<std::vector<std::string>> rows;
  for (const std::string& name : *runners) {
    Result<std::unique_ptr<Store>> store = session.db().OpenStore(name);
    if (!store.ok()) session.Fail(store.status(), "opening runner '" + name + "'");
    Result<StoreStats> s = (*store)->Stats();
    if (!s.ok()) session.Fail(s.status(), "counting runner '" + name + "'");
    Json j = StatsJson(*s);
    j["runner"] = name;
    all.push_back(j);
    const std::uint64_t bytes = s->event_bytes + s->log_bytes + s->snapshot_bytes + s->fact_bytes;
    rows.push_back({name, std::to_string(s->workflows_with_events), std::to_string(s->events), std::to_string(s->logs),
                    std::to_string(s->snapshots), std::to_string(s->facts), std::to_string(bytes)});
  }
  if (json) {
    PrintJson(all);
  } else {
    PrintTable({"RUNNER", "WORKFLOWS", "EVENTS", "LOGS", "SNAPSHOTS", "FACTS", "BYTES"}, rows);
  }
  return kExitOk;
}

int List(const Target& t, const std::string& prefix, const std::string& state, bool json) {
  Session session(t, Access::kRead);
  Store& store = session.store();
  Json all = Json::array();
  std::vector<std::vector<std::string>> rows;
  ListOptions page_options;
  page_options.prefix = prefix;
  HistoryReadOptions read;
  read.values = read.structure = false;
  // With a state, the candidates come from the store's state index (only
  // its entries of that state are read); the history still decides.
  std::optional<WorkflowState> wanted;
  for (WorkflowState s :
       {WorkflowState::kRunning, WorkflowState::kWaiting, WorkflowState::kPaused, WorkflowState::kIdle,
        WorkflowState::kHalted, WorkflowState::kCancelling, WorkflowState::kCancelled}) {
    if (state == WorkflowStateName(s)) wanted = s;
  }
  StateListOptions by_state;
  by_state.tag_is_prefix = true;
  if (wanted) by_state.tag = StateIndexPrefix(*wanted);
  for (;;) {
    Result<ListPage> page = ListPage{};
    if (wanted) {
      Result<StatePage> tagged = store.ListByState(by_state);
      if (!tagged.ok()) session.Fail(tagged.status(), "listing the state index");
      for (const TaggedId& e : tagged->entries) {
        if (e.id.starts_with(prefix)) page->ids.push_back(e.id);
      }
      page->more = tagged->more;
      if (tagged->more) {
        by_state.start_after_tag = tagged->entries.back().tag;
        by_state.start_after_id = tagged->entries.back().id;
      }
    } else {
      page = store.List(page_options);
    }
    if (!page.ok()) session.Fail(page.status(), "listing workflows");
    for (const std::string& id : page->ids) {
      Result<WorkflowSummary> w = store.Describe(id);
      if (w.status().IsNotFound()) continue;  // deleted since the listing
      if (!w.ok()) session.Fail(w.status(), "describing '" + id + "'");
      // A workflow with no events (a log only) has no state; one whose
      // events are not a Runner history (or are corrupt) is "unreadable",
      // with the reader's error.
      Result<WorkflowHistory> h = ReadHistory(store, id, read);
      const std::string shown_state = h.ok()                    ? WorkflowStateName(h->state)
                                      : h.status().IsNotFound() ? "-"
                                                                : "unreadable";
      if (!state.empty() && shown_state != state) continue;
      Json j = SummaryJson(id, *w);
      if (h.ok()) {
        j.update(HistoryJson(*h));
      } else {
        j["state"] = shown_state;
        if (!h.status().IsNotFound()) j["history_error"] = h.status().ToString();
      }
      all.push_back(j);
      rows.push_back({id, shown_state, h.ok() ? j["definition"].get<std::string>() : "-", std::to_string(w->cursor),
                      std::to_string(w->events), IsoTime(w->updated_at),
                      h.ok()                    ? (!h->halt_error.ok() ? SafeLine(h->halt_error.ToString()) : "")
                      : h.status().IsNotFound() ? ""
                                                : SafeLine(h.status().ToString())});
    }
    if (!page->more) break;
    if (!wanted) page_options.start_after = page->ids.back();
  }
  if (json) {
    PrintJson(all);
  } else {
    PrintTable({"ID", "STATE", "DEFINITION", "CURSOR", "EVENTS", "UPDATED", "REASON"}, rows);
  }
  return kExitOk;
}

int Show(const Target& t, const std::string& id, const ShowOptions& options) {
  Session session(t, Access::kRead);
  Store& store = session.store();
  Result<WorkflowSummary> w = store.Describe(id);
  if (!w.ok()) session.Fail(w.status(), "workflow '" + id + "'");
  HistoryReadOptions read;
  read.values = false;
  read.structure = !options.graph.empty();
  Result<WorkflowHistory> h = ReadHistory(store, id, read);
  if (!options.graph.empty()) {
    if (!h.ok()) session.Fail(h.status(), "reading the history of '" + id + "'");
    Result<std::string> graph =
        RenderGraph(h->definition, options.graph == "dot" ? GraphFormat::kDot : GraphFormat::kMermaid);
    if (!graph.ok()) session.Fail(graph.status(), "drawing '" + id + "'");
    std::fputs(graph->c_str(), stdout);
    return kExitOk;
  }
  // The summary, with what the history adds up to (or why it does not
  // read: the events below are then shown as they are).
  Json summary = SummaryJson(id, *w);
  if (h.ok()) {
    summary.update(HistoryJson(*h));
  } else {
    summary["history_error"] = h.status().ToString();
  }
  PrintJson(Json{{"workflow", summary}});
  if (w->has_log) {
    Result<LogRecord> log = store.Load(id);
    if (!log.ok()) session.Fail(log.status(), "loading the log of '" + id + "'");
    PrintJson(Json{{"log", BytesJson(log->log)}, {"updated_at", IsoTime(log->updated_at)}});
  }
  if (w->has_snapshot) {
    Result<Snapshot> snap = store.LoadSnapshot(id);
    if (!snap.ok()) session.Fail(snap.status(), "loading the snapshot of '" + id + "'");
    PrintJson(Json{{"snapshot", SnapshotJson(snap->bytes)}, {"cursor", snap->cursor}});
  }
  const std::uint64_t from = options.from != 0 ? options.from : w->trimmed + 1;
  std::uint64_t last = w->cursor == 0 ? 0 : PrintEvents(session, id, from, options.limit);
  if (!options.follow) return kExitOk;

  // Until interrupted: catch up with the writer, print what is new.
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  last = std::max(last, from - 1);
  while (!interrupted) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    Status s = session.db().Refresh();
    if (!s.ok()) session.Fail(s, "catching up with the store");
    Result<WorkflowSummary> now = store.Describe(id);
    if (now.status().IsNotFound()) continue;  // deleted: it may come back
    if (!now.ok()) session.Fail(now.status(), "workflow '" + id + "'");
    // Events trimmed meanwhile are gone: go on from the first one kept.
    if (now->cursor > last) last = PrintEvents(session, id, std::max(last, now->trimmed) + 1, 0);
  }
  return kExitOk;
}

int Stats(const Target& t, bool json) {
  Session session(t, Access::kRead);
  Result<DatabaseStats> db = session.db().Stats();
  if (!db.ok()) session.Fail(db.status(), "reading the database's figures");
  const DatabaseOptions& o = session.db().options();
  const bool etcd = db->engine == "etcd";
  // What a write survives, as far as this reader can tell. There is no
  // "sync" to report: a disk store does not record it, as each process that
  // opens the store to write chooses it (sync=1 in its URI) and this one
  // only reads (null would read as false, or as a setting of its own); a
  // memory database never reaches a disk, so sync means nothing there.
  const std::string durability = etcd ? "every acknowledged write is on a quorum of the members' disks"
                                 : db->engine == "memory"
                                     ? "none: RAM only, gone when the process ends"
                                     : "as the process that writes it opened it (sync=1: every commit fsync'ed; else "
                                       "survives kill -9, not power loss): the store does not record it";
  Json out{{"store", Shown(t.uri)}, {"engine", db->engine}, {"durability", durability}};
  if (etcd) {
    // What a client of the cluster can tell: which database, on which
    // members, and how big the member's etcd backend is. No directory, no
    // sync setting (every acknowledged write is on a quorum of the members'
    // disks), no read cache (the engine has none). The engine's `commits`
    // counts this client's writes only: always 0 here, so not shown.
    out["database"] = o.dir;
    out["members"] = o.nodes;
    out["backend_bytes"] = db->disk_bytes;
  } else {
    out["dir"] = db->dir;
    out["read_cache_bytes"] = o.read_cache_bytes;
    out["disk_bytes"] = db->disk_bytes;
  }
  out["runners"] = Json::object();
  Result<std::vector<std::string>> runners = session.db().ListRunners();
  if (!runners.ok()) session.Fail(runners.status(), "listing the runners");
  for (const std::string& name : *runners) {
    if (!t.runner.empty() && name != t.runner) continue;
    Result<std::unique_ptr<Store>> store = session.db().OpenStore(name);
    if (!store.ok()) session.Fail(store.status(), "opening runner '" + name + "'");
    Result<StoreStats> s = (*store)->Stats();
    if (!s.ok()) session.Fail(s.status(), "counting runner '" + name + "'");
    out["runners"][name] = StatsJson(*s);
  }
  if (json) {
    PrintJson(out);
    return kExitOk;
  }
  std::printf("store       %s\n", SafeLine(Shown(t.uri)).c_str());
  if (etcd) {
    std::string members;
    for (const std::string& m : o.nodes) members += (members.empty() ? "" : ", ") + m;
    std::printf("engine      etcd, database '%s' on members %s\n", SafeLine(o.dir).c_str(), SafeLine(members).c_str());
    std::printf("durability  %s\n", durability.c_str());
    std::printf(
        "backend     %llu bytes (the etcd backend of the member that answered: every database on the "
        "cluster, with the history not yet compacted)\n",
        static_cast<unsigned long long>(db->disk_bytes));
  } else {
    std::printf("engine      %s%s\ndurability  %s\n", db->engine.c_str(),
                db->dir.empty() ? "" : (" at " + SafeLine(db->dir)).c_str(), durability.c_str());
    if (db->engine == "disk") std::printf("disk bytes  %llu\n", static_cast<unsigned long long>(db->disk_bytes));
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, s] : out["runners"].items()) {
    static const char* const kTables[][2] = {
        {"events", "event_bytes"}, {"logs", "log_bytes"}, {"snapshots", "snapshot_bytes"}, {"facts", "fact_bytes"}};
    for (const auto& [count, bytes] : kTables) {
      rows.push_back({name, count, std::to_string(s.at(count).get<std::uint64_t>()),
                      std::to_string(s.at(bytes).get<std::uint64_t>())});
    }
  }
  std::printf("\n");
  PrintTable({"RUNNER", "TABLE", "COUNT", "BYTES"}, rows);
  return kExitOk;
}

}  // namespace runic::cli
