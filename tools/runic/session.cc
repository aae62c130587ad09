#include "session.h"

#include <cstdlib>

namespace runic::cli {

std::string Target::Where() const { return "store " + uri + (runner.empty() ? "" : ", runner " + runner); }

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
  options->create_if_missing = access_ == Access::kCreate;  // never a store by accident
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
    throw Failure(target_.Where() + ": no runner given: pass --runner NAME or set RUNIC_RUNNER (runners here: " +
                      names + ")",
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
  throw Failure(target_.Where() + ": " + doing + ": " + s.ToString());
}

}  // namespace runic::cli
