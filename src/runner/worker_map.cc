// Maps and reduces (SEMANTICS.md 4, "Map, children, sagas"): a map's array
// expands into element facts, derived from the array's fact and each index
// (so equal elements stay distinct, and nothing per element is stored but
// what its branch records); each expansion counts the runnables alive in its
// elements' branches, and its reduces start when that count comes to 0.
#include "runner/hash.h"
#include "runner/history_codec.h"
#include "runner/worker.h"

namespace runic::internal {

void Worker::Expand(const std::string& array) {
  auto [it, added] = expansions_.try_emplace(array);
  if (!added) return;  // a retry derives every fact again
  Expansion& x = it->second;
  const Fact& a = facts_.at(array);  // stable: facts_ never erases
  x.map = workflow_->Find(a.node);
  x.root = a.root;
  for (const Workflow::Node& node : workflow_->nodes()) {
    if (node.kind == Workflow::NodeKind::kReduce && node.map == a.node) x.reduces.push_back(&node);
  }
  // The branch the map ran in is not finished before these reduces ran.
  if (!x.reduces.empty()) CountOpen(x.root, +1);
  x.elements.reserve(a.value.size());
  for (std::size_t i = 0; i < a.value.size(); ++i) {
    std::vector<std::string> parents{array, std::to_string(i)};
    const std::string hash = FactHash(EncodeValue(a.value[i]), a.node, parents);
    AddFact(hash, Fact{a.value[i], {}, a.node, std::move(parents), hash, Fact::Role::kElement, i});
    element_of_.emplace(hash, array);
    x.elements.push_back(hash);
  }
  for (std::size_t i = 0; i < x.elements.size(); ++i) Derive(x.elements[i]);
  settled_.push_back(array);  // an empty array (or one whose branches run nothing) reduces at once
}

void Worker::CountOpen(const std::string& root, int delta) {
  if (element_of_.empty()) return;
  const std::string* branch = &root;
  for (auto e = element_of_.find(*branch); e != element_of_.end(); e = element_of_.find(*branch)) {
    Expansion& x = expansions_.at(e->second);
    x.open += delta;
    if (x.open == 0) settled_.push_back(e->second);
    branch = &x.root;  // the branch the map ran in: an outer map's element, or an input
  }
}

void Worker::DeriveReduces() {
  // Not while an element's runnable halted (it is not counted: Retry makes
  // it again) or the workflow is cancelled or cancelling.
  if (Ended() || phase_.is(Phase::kCancelling)) return;
  while (!settled_.empty()) {
    const std::string array = std::move(settled_.back());
    settled_.pop_back();
    Expansion& x = expansions_.at(array);
    // Not finished (a retry opened it again), or reduced already.
    if (x.open != 0 || x.reduced || x.reduces.empty()) continue;
    x.reduced = true;
    for (const Workflow::Node* node : x.reduces) {
      std::string id = RunnableId(node->name, {array});
      MakeRunnable(std::move(id), *node, {array}, x.root);
    }
    CountOpen(x.root, -1);  // the reduces stand for themselves now
  }
}

std::vector<Value> Worker::Collected(const std::string& array, const Workflow::Node& node) const {
  const Expansion& x = expansions_.at(array);
  const std::string& collect = node.parents.front();
  std::vector<Value> out;
  if (collect == x.map->name) {  // the elements themselves
    for (const std::string& e : x.elements) out.push_back(facts_.at(e).value);
    return out;
  }
  // What `collect` produced in each element's branch, in production order.
  std::unordered_map<std::string_view, std::size_t> index;
  for (std::size_t i = 0; i < x.elements.size(); ++i) index.emplace(x.elements[i], i);
  std::vector<std::vector<const Value*>> by_element(x.elements.size());
  for (const std::string& h : fact_order_) {
    const Fact& f = facts_.at(h);
    if (f.node != collect) continue;
    if (auto i = index.find(f.root); i != index.end()) by_element[i->second].push_back(&f.value);
  }
  for (const auto& values : by_element) {
    for (const Value* v : values) out.push_back(*v);
  }
  return out;
}

Status Worker::CheckRootMaps(const Value& input) const {
  if (input.is_array()) return Status::OK();
  for (const Workflow::Node& node : workflow_->nodes()) {
    if (node.kind == Workflow::NodeKind::kMap && node.parents.empty() && !node.step) {
      return Status::InvalidArgument("map '" + node.name + "' of " + workflow_->name() + " v" +
                                     std::to_string(workflow_->version()) + " takes its input as its array, and " +
                                     "the input is " + input.type_name());
    }
  }
  return Status::OK();
}

}  // namespace runic::internal
