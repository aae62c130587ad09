// inbox_consumer_helper URI ID [--claim | --until-empty]: consumes
// workflow ID's inbox in runner "inbox" of the database at URI
// (inbox_consumer.h), printing "consumed BYTES" for each entry once its
// consumption is durable, until it consumes the entry "stop" (exit 0), or
// with --until-empty until it finds the inbox empty (exit 0). With --claim
// it first claims the workflow (etcd: waits, at most 30 s, for another
// owner's lease to expire). Any store error is printed and ends it with
// exit 3. Runs at most 120 s.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include "inbox_consumer.h"
#include "runic/runic.h"

namespace {

void Say(const std::string& line) {
  const std::string out = line + "\n";
  (void)!::write(STDOUT_FILENO, out.data(), out.size());
}

int Fail(const std::string& what, const runic::Status& s) {
  Say("error " + what + ": " + s.ToString());
  return 3;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string flag = argc == 4 ? argv[3] : "";
  if (argc < 3 || argc > 4 || (argc == 4 && flag != "--claim" && flag != "--until-empty")) {
    std::fprintf(stderr, "usage: inbox_consumer_helper URI ID [--claim | --until-empty]\n");
    return 2;
  }
  const std::string uri = argv[1], id = argv[2];
  const bool until_empty = flag == "--until-empty";
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  runic::Result<std::shared_ptr<runic::Database>> db = runic::Database::OpenUri(uri);
  if (!db.ok()) return Fail("open", db.status());
  runic::Result<std::unique_ptr<runic::Store>> store = (*db)->OpenStore(runic::test::kInboxRunner);
  if (!store.ok()) return Fail("open store", store.status());
  if (flag == "--claim") {
    runic::Status claimed;
    for (int i = 0; i < 3000; ++i) {
      claimed = (*store)->Claim(id);
      if (!claimed.IsNotOwner()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!claimed.ok()) return Fail("claim", claimed);
    Say("claimed");
  }
  runic::Result<runic::WorkflowSummary> w = (*store)->Describe(id);
  if (!w.ok()) return Fail("describe", w.status());
  std::uint64_t cursor = w->cursor;
  std::mt19937 rng(static_cast<unsigned>(::getpid()));
  std::vector<std::string> recorded;
  while (std::chrono::steady_clock::now() < end) {
    runic::Status s = runic::test::ConsumeStep(**store, id, 1 + rng() % 4, &cursor, &recorded);
    if (!s.ok()) return Fail("consume", s);
    for (const std::string& bytes : recorded) {
      Say("consumed " + bytes);
      if (bytes == runic::test::kStopEntry) return 0;
    }
    if (recorded.empty() && until_empty) return 0;
    if (recorded.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  Say("error: out of time");
  return 4;
}
