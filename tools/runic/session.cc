#include "session.h"

#include <cstdlib>

namespace runic::cli {

std::string Target::Where() const { return "store " + Shown(uri) + (runner.empty() ? "" : ", runner " + runner); }

std::string Shown(const std::string& text) {
  static constexpr std::string_view kKey = "password=";
  std::string out;
  std::size_t at = 0;
  for (std::size_t p; (p = text.find(kKey, at)) != std::string::npos;) {
    // Only a URI parameter: after '?' or '&'.
    const bool param = p > 0 && (text[p - 1] == '?' || text[p - 1] == '&');
    out.append(text, at, p + kKey.size() - at);
    at = p + kKey.size();
    if (!param) continue;
    const std::size_t end = text.find_first_of("&#' \t\n)", at);
    out += "***";
    at = end == std::string::npos ? text.size() : end;
  }
  return out.append(text, at);
}

bool IsEtcdUri(const std::string& uri) { return uri.starts_with("etcd:"); }

Target ResolveTarget(const std::string& store_flag, const std::string& runner_flag) {
  Target t;
  const char* env_store = std::getenv("RUNIC_STORE");
  const char* env_runner = std::getenv("RUNIC_RUNNER");
  t.uri = !store_flag.empty() ? store_flag : (env_store != nullptr && *env_store != '\0') ? env_store : "disk://";
  t.runner = !runner_flag.empty() ? runner_flag : env_runner != nullptr ? env_runner : "";
  return t;
}

Session::Session(Target target, Access access) : target_(std::move(target)), access_(access) {
  Result<DatabaseOptions> options = Database::ParseUri(target_.uri);
  if (!options.ok()) throw Failure(target_.Where() + ": " + options.status().message(), kExitUsage);
  if (options->read_only && access_ != Access::kRead) {
    throw Failure(target_.Where() + ": the URI says read_only=1, and this subcommand writes", kExitUsage);
  }
  // Never a store by accident; create=0 in the URI holds for kCreate too.
  options->create_if_missing = access_ == Access::kCreate && options->create_if_missing;
  // A memory database has no reader apart from its writer: nothing to protect.
  options->read_only = access_ == Access::kRead && options->disc_copies;
  Result<std::shared_ptr<Database>> db = Database::Open(*options);
  if (!db.ok()) {
    if (db.status().IsInUse()) {
      throw Failure(target_.Where() + ": " + db.status().message() +
                    "; stop that process first (runners, ls, show and stats work while it runs)");
    }
    Fail(db.status(), "opening the database");
  }
  db_ = std::move(*db);
}

Store& Session::store() {
  if (store_) return *store_;
  Result<std::vector<std::string>> runners = db_->ListRunners();
  if (!runners.ok()) Fail(runners.status(), "listing the runners");
  std::string names;
  for (const std::string& r : *runners) names += (names.empty() ? "" : ", ") + r;
  if (names.empty()) names = "none";
  if (target_.runner.empty()) {
    throw Failure(
        target_.Where() + ": no runner given: pass --runner NAME or set RUNIC_RUNNER (runners here: " + names + ")",
        kExitUsage);
  }
  bool found = false;
  for (const std::string& r : *runners) found = found || r == target_.runner;
  if (!found) {
    throw Failure(target_.Where() + ": no such runner (runners here: " + names + ")", kExitUsage);
  }
  Result<std::unique_ptr<Store>> store = db_->OpenStore(target_.runner);
  if (!store.ok()) Fail(store.status(), "opening the runner's tables");
  store_ = std::move(*store);
  return *store_;
}

void Session::Fail(const Status& s, const std::string& doing) const {
  std::string hint;
  if (s.code() == Status::Code::kNotOwner) {
    hint = "; stop the Runner that runs it (or wait until its lease expires), then try again";
  }
  throw Failure(target_.Where() + ": " + doing + ": " + s.ToString() + hint);
}

}  // namespace runic::cli
