// The store contract for waiting workflows, on every engine (the fixture and
// engines of store_conformance.h): inboxes, the state and due-time indexes,
// what their writes cost, and Delete, Stats and imports covering them.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "runic/runic.h"
#include "store_conformance.h"

namespace runic {
namespace {

std::vector<std::string> Entries(Store& store, std::string_view id, std::uint64_t after = 0) {
  Result<InboxPage> page = store.ReadInbox(id, {after, 1000});
  EXPECT_TRUE(page.ok()) << page.status().ToString();
  std::vector<std::string> out;
  if (!page.ok()) return out;
  for (const InboxEntry& e : page->entries) out.push_back(std::to_string(e.sequence) + ":" + e.bytes);
  return out;
}

std::vector<std::string> Pending(Store& store, const ListOptions& options = {}) {
  Result<ListPage> page = store.ListInboxes(options);
  EXPECT_TRUE(page.ok()) << page.status().ToString();
  return page.ok() ? page->ids : std::vector<std::string>{};
}

std::vector<std::string> Tagged(Store& store, const StateListOptions& options) {
  Result<StatePage> page = store.ListByState(options);
  EXPECT_TRUE(page.ok()) << page.status().ToString();
  std::vector<std::string> out;
  if (!page.ok()) return out;
  for (const TaggedId& e : page->entries) out.push_back(e.tag + " " + e.id);
  return out;
}

StateListOptions Tag(std::string tag, bool prefix = false) {
  StateListOptions o;
  o.tag = std::move(tag);
  o.tag_is_prefix = prefix;
  return o;
}

Result<std::uint64_t> AppendWith(Store& store, std::string_view id, const AppendOptions& options) {
  return store.Append(id, std::vector<std::string_view>{"e"}, options);
}

TEST_P(StoreConformance, InboxAppendsReadsAndConsumesInTheOwnersWrite) {
  Result<std::uint64_t> unknown = store_->AppendInbox("wf", "x");
  EXPECT_TRUE(unknown.status().IsNotFound()) << unknown.status().ToString();
  EXPECT_TRUE(Ids().empty()) << "an inbox append to an unknown workflow wrote something";
  ASSERT_TRUE(store_->Save("log-only", "log").ok());
  EXPECT_TRUE(store_->AppendInbox("log-only", "x").status().IsNotFound()) << "an inbox needs an event stream";

  ASSERT_TRUE(AppendWith(*store_, "wf", {}).ok());
  for (int i = 1; i <= 3; ++i) {
    Result<std::uint64_t> seq = store_->AppendInbox("wf", "signal-" + std::to_string(i));
    ASSERT_TRUE(seq.ok()) << seq.status().ToString();
    EXPECT_EQ(*seq, static_cast<std::uint64_t>(i));
  }
  EXPECT_EQ(Entries(*store_, "wf"), (std::vector<std::string>{"1:signal-1", "2:signal-2", "3:signal-3"}));
  EXPECT_EQ(Entries(*store_, "wf", 2), (std::vector<std::string>{"3:signal-3"}));
  EXPECT_EQ(Pending(*store_), (std::vector<std::string>{"wf"}));
  EXPECT_TRUE(Entries(*store_, "nobody").empty());

  AppendOptions consume;
  consume.consume_inbox_through = 2;
  Result<std::uint64_t> cursor = AppendWith(*store_, "wf", consume);
  ASSERT_TRUE(cursor.ok()) << cursor.status().ToString();
  EXPECT_EQ(*cursor, 2u);
  EXPECT_EQ(Entries(*store_, "wf"), (std::vector<std::string>{"3:signal-3"}));
  Result<WorkflowSummary> sum = store_->Describe("wf");
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  EXPECT_EQ(sum->inbox_last, 3u);
  EXPECT_EQ(sum->inbox_consumed, 2u);
  EXPECT_EQ(sum->inbox_pending, 1u);
  EXPECT_FALSE(sum->inbox_closed);
  EXPECT_EQ(Pending(*store_), (std::vector<std::string>{"wf"})) << "entry 3 is still pending";

  consume.consume_inbox_through = 1;  // below what was consumed: a no-op
  ASSERT_TRUE(AppendWith(*store_, "wf", consume).ok());
  EXPECT_EQ(store_->Describe("wf")->inbox_consumed, 2u);

  consume.consume_inbox_through = 4;  // above the last entry: refused, nothing written
  Result<std::uint64_t> above = AppendWith(*store_, "wf", consume);
  EXPECT_TRUE(above.status().IsInvalidArgument()) << above.status().ToString();
  EXPECT_EQ(store_->Describe("wf")->cursor, 3u);

  consume.consume_inbox_through = 3;
  ASSERT_TRUE(AppendWith(*store_, "wf", consume).ok());
  EXPECT_TRUE(Entries(*store_, "wf").empty());
  EXPECT_TRUE(Pending(*store_).empty());
  // Sequences are never reused.
  EXPECT_EQ(*store_->AppendInbox("wf", "late"), 4u);
}

TEST_P(StoreConformance, InboxIsBoundedAndClosedByTheOwner) {
  ASSERT_TRUE(AppendWith(*store_, "wf", {}).ok());
  const std::size_t bound = store_->limits().max_inbox_entries;
  ASSERT_GT(bound, 0u);
  for (std::size_t i = 0; i < bound; ++i) ASSERT_TRUE(store_->AppendInbox("wf", "s").ok()) << i;
  Result<std::uint64_t> full = store_->AppendInbox("wf", "one too many");
  EXPECT_TRUE(full.status().IsResourceExhausted()) << full.status().ToString();
  EXPECT_EQ(store_->Describe("wf")->inbox_last, bound) << "the refused entry was written";

  AppendOptions consume;
  consume.consume_inbox_through = 10;
  ASSERT_TRUE(AppendWith(*store_, "wf", consume).ok());
  EXPECT_TRUE(store_->AppendInbox("wf", "room again").ok());

  AppendOptions close;
  close.close_inbox = true;
  ASSERT_TRUE(AppendWith(*store_, "wf", close).ok());
  Result<std::uint64_t> closed = store_->AppendInbox("wf", "after cancel");
  EXPECT_TRUE(closed.status().IsFailedPrecondition()) << closed.status().ToString();
  EXPECT_TRUE(store_->Describe("wf")->inbox_closed);
  // What was there can still be read and consumed.
  Result<InboxPage> left = store_->ReadInbox("wf", {0, 100000});
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->entries.size(), bound - 10 + 1);
  consume.consume_inbox_through = bound + 1;
  ASSERT_TRUE(AppendWith(*store_, "wf", consume).ok());
  EXPECT_TRUE(Pending(*store_).empty());
  EXPECT_TRUE(store_->AppendInbox("wf", "still closed").status().IsFailedPrecondition());
}

TEST_P(StoreConformance, InboxBadInputIsRefusedAndWritesNothing) {
  ASSERT_TRUE(AppendWith(*store_, "wf", {}).ok());
  const StoreLimits& lim = store_->limits();
  EXPECT_TRUE(store_->AppendInbox("wf", "").status().IsInvalidArgument());
  EXPECT_TRUE(store_->AppendInbox("wf", std::string(lim.max_value_bytes + 1, 'v')).status().IsInvalidArgument());
  EXPECT_TRUE(store_->AppendInbox("", "x").status().IsInvalidArgument());
  EXPECT_TRUE(store_->AppendInbox(std::string(lim.max_id_bytes + 1, 'i'), "x").status().IsInvalidArgument());
  EXPECT_TRUE(store_->ReadInbox("wf", {0, 0}).status().IsInvalidArgument());
  EXPECT_TRUE(store_->ReadInbox("", {}).status().IsInvalidArgument());
  ListOptions zero;
  zero.limit = 0;
  EXPECT_TRUE(store_->ListInboxes(zero).status().IsInvalidArgument());
  EXPECT_EQ(store_->Describe("wf")->inbox_last, 0u);
  EXPECT_TRUE(Pending(*store_).empty());
}

TEST_P(StoreConformance, ListInboxesPagesThePendingWorkflowsOnce) {
  const std::vector<std::string> ids = {"a", "b", "b2", "c", std::string("d\0x", 3)};
  for (const std::string& id : ids) {
    ASSERT_TRUE(AppendWith(*store_, id, {}).ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(store_->AppendInbox(id, "s").ok());
  }
  ASSERT_TRUE(AppendWith(*store_, "quiet", {}).ok());
  EXPECT_EQ(Pending(*store_), ids);
  std::vector<std::string> paged;
  ListOptions o;
  o.limit = 2;
  for (int page = 0; page < 10; ++page) {
    Result<ListPage> p = store_->ListInboxes(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    paged.insert(paged.end(), p->ids.begin(), p->ids.end());
    if (!p->more) break;
    o.start_after = p->ids.back();
  }
  EXPECT_EQ(paged, ids);
  ListOptions prefixed;
  prefixed.prefix = "b";
  EXPECT_EQ(Pending(*store_, prefixed), (std::vector<std::string>{"b", "b2"}));
}

TEST_P(StoreConformance, StateIndexMovesWithTheAppendAndListsByTagAndPrefix) {
  AppendOptions running;
  running.state_tag = "running/order@1";
  for (const char* id : {"o-1", "o-2", "o-3", "p-1"}) ASSERT_TRUE(AppendWith(*store_, id, running).ok());
  AppendOptions other;
  other.state_tag = "running/payment@2";
  ASSERT_TRUE(AppendWith(*store_, "pay-1", other).ok());
  ASSERT_TRUE(AppendWith(*store_, "untagged", {}).ok());

  EXPECT_EQ(Tagged(*store_, Tag("running/order@1")),
            (std::vector<std::string>{"running/order@1 o-1", "running/order@1 o-2", "running/order@1 o-3",
                                      "running/order@1 p-1"}));
  StateListOptions by_prefix = Tag("running/order@1");
  by_prefix.id_prefix = "o-";
  EXPECT_EQ(Tagged(*store_, by_prefix).size(), 3u);
  EXPECT_EQ(Tagged(*store_, Tag("running/", true)).size(), 5u);
  EXPECT_EQ(Tagged(*store_, Tag("", true)).size(), 5u);

  AppendOptions halted;
  halted.state_tag = "halted/order@1";
  ASSERT_TRUE(AppendWith(*store_, "o-2", halted).ok());
  EXPECT_EQ(Tagged(*store_, Tag("halted/", true)), (std::vector<std::string>{"halted/order@1 o-2"}));
  EXPECT_EQ(Tagged(*store_, Tag("running/order@1")).size(), 3u) << "the old entry was not moved";
  EXPECT_EQ(store_->Describe("o-2")->state_tag, "halted/order@1");
  // An append without a tag leaves the entry; the same tag again is no change.
  ASSERT_TRUE(AppendWith(*store_, "o-2", {}).ok());
  ASSERT_TRUE(AppendWith(*store_, "o-2", halted).ok());
  EXPECT_EQ(Tagged(*store_, Tag("halted/", true)).size(), 1u);

  // Pages in (tag, id) order.
  std::vector<std::string> paged;
  StateListOptions page = Tag("", true);
  page.limit = 2;
  for (int i = 0; i < 10; ++i) {
    Result<StatePage> p = store_->ListByState(page);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    for (const TaggedId& e : p->entries) paged.push_back(e.tag + " " + e.id);
    if (!p->more) break;
    page.start_after_tag = p->entries.back().tag;
    page.start_after_id = p->entries.back().id;
  }
  EXPECT_EQ(paged, Tagged(*store_, Tag("", true)));
  EXPECT_EQ(paged.size(), 5u);

  AppendOptions removed;
  removed.state_tag = "";
  ASSERT_TRUE(AppendWith(*store_, "p-1", removed).ok());
  EXPECT_EQ(Tagged(*store_, Tag("running/order@1")).size(), 2u);
  ASSERT_TRUE(store_->Delete("o-1").ok());
  EXPECT_EQ(Tagged(*store_, Tag("running/order@1")), (std::vector<std::string>{"running/order@1 o-3"}));
}

TEST_P(StoreConformance, StateIndexBadInputIsRefusedAndWritesNothing) {
  AppendOptions zero;
  const std::string with_zero("bad\0tag", 7);
  zero.state_tag = with_zero;
  EXPECT_TRUE(AppendWith(*store_, "wf", zero).status().IsInvalidArgument());
  AppendOptions big;
  const std::string long_tag(store_->limits().max_state_tag_bytes + 1, 't');
  big.state_tag = long_tag;
  EXPECT_TRUE(AppendWith(*store_, "wf", big).status().IsInvalidArgument());
  EXPECT_TRUE(Ids().empty());
  EXPECT_TRUE(store_->ListByState(Tag("")).status().IsInvalidArgument()) << "an exact tag is not empty";
  StateListOptions mixed = Tag("running/", true);
  mixed.id_prefix = "o-";
  EXPECT_TRUE(store_->ListByState(mixed).status().IsInvalidArgument());
  StateListOptions no_limit = Tag("t");
  no_limit.limit = 0;
  EXPECT_TRUE(store_->ListByState(no_limit).status().IsInvalidArgument());
}

TEST_P(StoreConformance, DueIndexListsWhatIsDueBeforeAnInstantInPages) {
  for (auto [id, due] : {std::pair{"a", 300}, {"b", 100}, {"c", 200}, {"d", 200}, {"e", 900}}) {
    AppendOptions o;
    o.due = due;
    ASSERT_TRUE(AppendWith(*store_, id, o).ok());
  }
  auto due_before = [&](std::uint64_t before, std::size_t limit = 1000) {
    std::vector<std::string> out;
    DueListOptions o;
    o.before = before;
    o.limit = limit;
    for (int i = 0; i < 20; ++i) {
      Result<DuePage> p = store_->ListDue(o);
      EXPECT_TRUE(p.ok()) << p.status().ToString();
      if (!p.ok()) break;
      for (const DueEntry& e : p->entries) out.push_back(std::to_string(e.due) + " " + e.id);
      if (!p->more) break;
      o.start_after_due = p->entries.back().due;
      o.start_after_id = p->entries.back().id;
    }
    return out;
  };
  EXPECT_EQ(due_before(301), (std::vector<std::string>{"100 b", "200 c", "200 d", "300 a"}));
  EXPECT_EQ(due_before(301, 1), due_before(301)) << "pages of one";
  EXPECT_EQ(due_before(200), (std::vector<std::string>{"100 b"}));
  AppendOptions moved;
  moved.due = 50;
  ASSERT_TRUE(AppendWith(*store_, "e", moved).ok());
  EXPECT_EQ(due_before(101), (std::vector<std::string>{"50 e", "100 b"}));
  AppendOptions cleared;
  cleared.due = 0;
  ASSERT_TRUE(AppendWith(*store_, "b", cleared).ok());
  EXPECT_EQ(store_->Describe("b")->due, 0u);
  EXPECT_EQ(store_->Describe("e")->due, 50u);
  ASSERT_TRUE(store_->Delete("c").ok());
  EXPECT_EQ(due_before(1000), (std::vector<std::string>{"50 e", "200 d", "300 a"}));
}

TEST_P(StoreConformance, AFullBatchPlusEveryExtraWriteFitsAndOneMoreDoesNot) {
  ASSERT_TRUE(AppendWith(*store_, "wf", {}).ok());
  ASSERT_TRUE(store_->AppendInbox("wf", "s").ok());
  const StoreLimits& lim = store_->limits();
  const std::size_t extras = lim.state_tag_cost + lim.due_cost + lim.inbox_consume_cost + lim.inbox_close_cost;
  ASSERT_GT(extras, 0u);
  AppendOptions all;
  all.state_tag = "cancelled/order@1";
  all.due = 7;
  all.consume_inbox_through = 1;
  all.close_inbox = true;
  const std::string fact_value = "v";
  const std::string hash = "fact-hash";
  all.facts.emplace_back(hash, fact_value);
  std::vector<std::string> events(lim.max_batch_events - extras - 1, "e");
  std::vector<std::string> one_more(events.size() + 1, "e");
  Result<std::uint64_t> over = store_->Append("wf", one_more, all);
  EXPECT_TRUE(over.status().IsInvalidArgument()) << over.status().ToString();
  Result<std::uint64_t> full = store_->Append("wf", events, all);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_EQ(*full, 1 + events.size());
  Result<WorkflowSummary> sum = store_->Describe("wf");
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(sum->state_tag, "cancelled/order@1");
  EXPECT_EQ(sum->due, 7u);
  EXPECT_EQ(sum->inbox_consumed, 1u);
  EXPECT_TRUE(sum->inbox_closed);
  EXPECT_TRUE(store_->LoadFact(hash).ok());
}

TEST_P(StoreConformance, DeleteStatsAndDropRunnerCoverInboxesAndIndexes) {
  AppendOptions o;
  o.state_tag = "idle/x@1";
  o.due = 10;
  for (const char* id : {"a", "b"}) {
    ASSERT_TRUE(AppendWith(*store_, id, o).ok());
    ASSERT_TRUE(store_->AppendInbox(id, "12345").ok());
  }
  Result<StoreStats> stats = store_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->inbox_entries, 2u);
  EXPECT_EQ(stats->inbox_bytes, 10u);
  EXPECT_EQ(stats->state_entries, 2u);
  EXPECT_EQ(stats->due_entries, 2u);

  ASSERT_TRUE(store_->Delete("a").ok());
  stats = store_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->inbox_entries, 1u);
  EXPECT_EQ(stats->state_entries, 1u);
  EXPECT_EQ(stats->due_entries, 1u);
  EXPECT_EQ(Pending(*store_), (std::vector<std::string>{"b"}));
  // A new workflow of the same id starts with an empty, open inbox.
  ASSERT_TRUE(AppendWith(*store_, "a", {}).ok());
  EXPECT_EQ(*store_->AppendInbox("a", "x"), 1u);

  ASSERT_TRUE(db_->DropRunner("runner").ok());
  store_ = OpenStore("runner");
  ASSERT_NE(store_, nullptr);
  stats = store_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->inbox_entries + stats->state_entries + stats->due_entries, 0u);
  EXPECT_TRUE(Pending(*store_).empty());
  EXPECT_TRUE(Tagged(*store_, Tag("", true)).empty());
}

TEST_P(StoreConformance, PeekReadsTheHeadAndAConditionalDeleteKeepsWhatChanged) {
  EXPECT_TRUE(store_->Peek("nobody").status().IsNotFound());
  EXPECT_TRUE(store_->Peek("").status().IsInvalidArgument());
  AppendOptions o;
  o.state_tag = "idle/x@1";
  o.due = 10;
  ASSERT_TRUE(AppendWith(*store_, "a", o).ok());
  ASSERT_TRUE(AppendWith(*store_, "a", {}).ok());
  ASSERT_TRUE(store_->AppendInbox("a", "s").ok());
  Result<WorkflowHead> head = store_->Peek("a");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->cursor, 2u);
  EXPECT_EQ(head->state_tag, "idle/x@1");
  EXPECT_EQ(head->due, 10u);
  EXPECT_EQ(head->inbox_last, 1u);
  EXPECT_EQ(head->inbox_consumed, 0u);
  EXPECT_FALSE(head->inbox_closed);

  // What changed since the read keeps the workflow, whole.
  DeleteOptions stale_cursor;
  stale_cursor.expected_cursor = 1;
  Status s = store_->Delete("a", stale_cursor);
  EXPECT_TRUE(s.IsConflict()) << s.ToString();
  DeleteOptions stale_inbox;
  stale_inbox.expected_cursor = 2;
  stale_inbox.expected_inbox_last = 0;
  s = store_->Delete("a", stale_inbox);
  EXPECT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_EQ(Entries(*store_, "a"), (std::vector<std::string>{"1:s"}));
  EXPECT_EQ(store_->Peek("a")->cursor, 2u);
  EXPECT_TRUE(store_->Delete("missing", stale_cursor).IsNotFound());

  DeleteOptions current;
  current.expected_cursor = head->cursor;
  current.expected_inbox_last = head->inbox_last;
  ASSERT_TRUE(store_->Delete("a", current).ok());
  EXPECT_FALSE(*store_->Exists("a"));
  EXPECT_TRUE(Pending(*store_).empty());
  EXPECT_TRUE(Tagged(*store_, Tag("", true)).empty());
  Result<DuePage> due = store_->ListDue({});
  ASSERT_TRUE(due.ok());
  EXPECT_TRUE(due->entries.empty());
}

TEST_P(StoreConformance, InboxesAndIndexesSurviveReopening) {
  if (!durable()) GTEST_SKIP() << "a memory database is gone when it closes";
  AppendOptions o;
  o.state_tag = "waiting/x@1";
  o.due = 99;
  ASSERT_TRUE(AppendWith(*store_, "wf", o).ok());
  ASSERT_TRUE(store_->AppendInbox("wf", "kept").ok());
  Reopen();
  EXPECT_EQ(Entries(*store_, "wf"), (std::vector<std::string>{"1:kept"}));
  EXPECT_EQ(Tagged(*store_, Tag("waiting/x@1")), (std::vector<std::string>{"waiting/x@1 wf"}));
  Result<DuePage> due = store_->ListDue();
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->entries.size(), 1u);
  EXPECT_EQ(due->entries[0].due, 99u);
}

TEST_P(StoreConformance, ABackupHoldsInboxesAndIndexes) {
  if (!GetParam().disc_copies || GetParam().etcd) GTEST_SKIP() << "backups into a directory are the disk engine's";
  AppendOptions o;
  o.state_tag = "halted/x@1";
  o.due = 3;
  ASSERT_TRUE(AppendWith(*store_, "wf", o).ok());
  ASSERT_TRUE(store_->AppendInbox("wf", "kept").ok());
  const std::string dest = dir_.Sub("backup");
  ASSERT_TRUE(db_->Backup(dest).ok());
  DatabaseOptions bo;
  bo.disc_copies = true;
  bo.dir = dest;
  Result<std::shared_ptr<Database>> copy = Database::Open(bo);
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  Result<std::unique_ptr<Store>> restored = (*copy)->OpenStore("runner");
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(Entries(**restored, "wf"), (std::vector<std::string>{"1:kept"}));
  EXPECT_EQ(Tagged(**restored, Tag("halted/x@1")), (std::vector<std::string>{"halted/x@1 wf"}));
  Result<DuePage> due = (*restored)->ListDue();
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->entries.size(), 1u);
  EXPECT_EQ(due->entries[0].id, "wf");
}

TEST_P(StoreConformance, ImportCopiesInboxesAndIndexEntries) {
  AppendOptions o;
  o.state_tag = "halted/x@1";
  o.due = 5;
  ASSERT_TRUE(AppendWith(*store_, "wf", o).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store_->AppendInbox("wf", "s" + std::to_string(i)).ok());
  AppendOptions consume;
  consume.consume_inbox_through = 1;
  ASSERT_TRUE(AppendWith(*store_, "wf", consume).ok());

  std::unique_ptr<Store> dst = OpenStore("copy");
  ASSERT_NE(dst, nullptr);
  Result<WorkflowSummary> w = store_->Describe("wf");
  ASSERT_TRUE(w.ok());
  std::vector<std::string> events = StreamAll(*store_, "wf");
  ASSERT_TRUE(dst->ImportEvents("wf", 1, std::vector<std::string_view>(events.begin(), events.end())).ok());
  WorkflowImport in;
  in.cursor = w->cursor;
  in.updated_at = w->updated_at;
  in.state_tag = w->state_tag;
  in.due = w->due;
  in.inbox_last = w->inbox_last;
  in.inbox_consumed = w->inbox_consumed;
  in.inbox_closed = w->inbox_closed;
  Status missing = dst->ImportWorkflow("wf", in);
  EXPECT_TRUE(missing.IsInvalidArgument()) << "the inbox entries were not imported: " << missing.ToString();
  Result<InboxPage> pending = store_->ReadInbox("wf");
  ASSERT_TRUE(pending.ok());
  ASSERT_TRUE(dst->ImportInbox("wf", pending->entries).ok());
  ASSERT_TRUE(dst->ImportWorkflow("wf", in).ok());
  EXPECT_EQ(Entries(*dst, "wf"), (std::vector<std::string>{"2:s1", "3:s2"}));
  EXPECT_EQ(Tagged(*dst, Tag("halted/x@1")), (std::vector<std::string>{"halted/x@1 wf"}));
  EXPECT_EQ(dst->Describe("wf")->due, 5u);
  EXPECT_EQ(*dst->AppendInbox("wf", "next"), 4u);

  // Importing again with other entries moves them.
  in.state_tag = "idle/x@1";
  in.due = 0;
  ASSERT_TRUE(dst->ImportWorkflow("wf", in).ok());
  EXPECT_TRUE(Tagged(*dst, Tag("halted/", true)).empty());
  EXPECT_EQ(Tagged(*dst, Tag("idle/", true)).size(), 1u);
  Result<DuePage> due = dst->ListDue();
  ASSERT_TRUE(due.ok());
  EXPECT_TRUE(due->entries.empty());
  EXPECT_EQ(Entries(*dst, "wf").size(), 2u) << "entry 4 is outside (consumed, last] of the import";
}

TEST_P(StoreConformance, InboxAppendsFromManyThreadsEachGetTheirOwnSequence) {
  ASSERT_TRUE(AppendWith(*store_, "wf", {}).ok());
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (!store_->AppendInbox("wf", std::to_string(t) + "-" + std::to_string(i)).ok()) ++failures;
      }
    });
  }
  // The owner keeps appending (and consuming) meanwhile.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(AppendWith(*store_, "wf", {}).ok());
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  Result<InboxPage> page = store_->ReadInbox("wf", {0, 1000});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries.size(), static_cast<std::size_t>(kThreads * kEach));
  std::set<std::string> distinct;
  for (std::size_t i = 0; i < page->entries.size(); ++i) {
    EXPECT_EQ(page->entries[i].sequence, i + 1);
    distinct.insert(page->entries[i].bytes);
  }
  EXPECT_EQ(distinct.size(), page->entries.size());
}

TEST_P(StoreConformance, WatchInboxesTellsOfEachEntryUntilReleased) {
  ASSERT_TRUE(AppendWith(*store_, "wf", {}).ok());
  ASSERT_TRUE(store_->AppendInbox("wf", "before").ok());  // before the watch: found by listing, not told
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> told;
  Result<std::unique_ptr<InboxWatch>> watch = store_->WatchInboxes([&](std::string_view id) {
    std::lock_guard lock(mu);
    told.emplace_back(id);
    cv.notify_all();
  });
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  std::unique_ptr<Store> other = OpenStore("runner");  // another handle of the same tables
  ASSERT_TRUE(store_->AppendInbox("wf", "a").ok());
  ASSERT_TRUE(other->AppendInbox("wf", "b").ok());
  EXPECT_TRUE(store_->AppendInbox("nobody", "c").status().IsNotFound());
  {
    // Embedded engines tell before the append returns; etcd's watch soon after.
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return told.size() >= 2; });
    EXPECT_EQ(told, (std::vector<std::string>{"wf", "wf"}));
  }
  watch->reset();
  ASSERT_TRUE(store_->AppendInbox("wf", "d").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(GetParam().etcd ? 200 : 0));
  std::lock_guard lock(mu);
  EXPECT_EQ(told.size(), 2u) << "told after the watch was released";
  EXPECT_TRUE(store_->WatchInboxes(nullptr).status().IsInvalidArgument());
}

// The state index reads only the keys it lists: 100 halted among 100,000.
TEST_P(StoreConformance, ListingOneStateReadsOnlyItsEntries) {
  if (!GetParam().disc_copies || GetParam().sync || GetParam().etcd) {
    GTEST_SKIP() << "counted on the disk engine's iterator statistics (once, without sync)";
  }
  constexpr int kWorkflows = 100000, kHalted = 100;
  const std::string idle = "idle/doc@1", halted = "halted/doc@1";
  // Batches of 50: an AppendMany holds the stripe lock of each of its
  // workflows, and ThreadSanitizer follows at most 64 locks per thread.
  constexpr int kBatch = 50;
  for (int base = 0; base < kWorkflows; base += kBatch) {
    std::vector<std::string> ids;
    std::vector<AppendRequest> requests;
    for (int i = base; i < base + kBatch; ++i) ids.push_back("doc-" + std::to_string(i));
    for (int i = base; i < base + kBatch; ++i) {
      AppendRequest r;
      r.id = ids[i - base];
      r.events = {"e"};
      r.options.state_tag = i % (kWorkflows / kHalted) == 7 ? halted : idle;
      requests.push_back(std::move(r));
    }
    for (const Result<std::uint64_t>& r : store_->AppendMany(requests)) ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  Result<DatabaseStats> before = db_->Stats();
  ASSERT_TRUE(before.ok());
  Result<StatePage> page = store_->ListByState(Tag("halted/", true));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  Result<DatabaseStats> after = db_->Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(page->entries.size(), static_cast<std::size_t>(kHalted));
  EXPECT_FALSE(page->more);
  const std::uint64_t steps = after->iterator_steps - before->iterator_steps;
  EXPECT_LE(steps, static_cast<std::uint64_t>(kHalted + 2)) << "the listing stepped over other entries";
  EXPECT_GE(steps, static_cast<std::uint64_t>(kHalted));
}

}  // namespace
}  // namespace runic
