// The etcd engine's transaction helpers (etcd_txn.h).
#include "store/etcd/etcd_txn.h"

#include <random>
#include <utility>

#include "store/etcd/etcd_client.h"

namespace runic::internal::etcd {

std::uint64_t RandomNonce() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   static_cast<std::uint64_t>(Clock::now().time_since_epoch().count())};
  std::uint64_t n = 0;
  while (n == 0) n = rng();  // 0 marks imported events
  return n;
}

std::string Quote(std::string_view id) { return "'" + std::string(id) + "'"; }

void AddPut(google::protobuf::RepeatedPtrField<pb::RequestOp>* ops, std::string key, std::string value,
            std::int64_t lease) {
  pb::PutRequest* put = ops->Add()->mutable_request_put();
  put->set_key(std::move(key));
  put->set_value(std::move(value));
  if (lease != 0) put->set_lease(lease);
}

void AddDelete(google::protobuf::RepeatedPtrField<pb::RequestOp>* ops, std::string key, std::string end) {
  pb::DeleteRangeRequest* del = ops->Add()->mutable_request_delete_range();
  del->set_key(std::move(key));
  if (!end.empty()) del->set_range_end(std::move(end));
}

void AddGet(google::protobuf::RepeatedPtrField<pb::RequestOp>* ops, std::string key) {
  ops->Add()->mutable_request_range()->set_key(std::move(key));
}

void CompareMod(pb::TxnRequest* txn, std::string key, std::int64_t mod_revision) {
  pb::Compare* c = txn->add_compare();
  c->set_result(pb::Compare::EQUAL);
  c->set_target(pb::Compare::MOD);
  c->set_key(std::move(key));
  c->set_mod_revision(mod_revision);
}

// The fence: the owner key holds `token`, or, for a workflow this process
// does not own, there is no owner key.
void CompareOwner(pb::TxnRequest* txn, std::string owner_key, const std::optional<std::string>& token) {
  pb::Compare* c = txn->add_compare();
  c->set_result(pb::Compare::EQUAL);
  c->set_key(std::move(owner_key));
  if (token) {
    c->set_target(pb::Compare::VALUE);
    c->set_value(*token);
  } else {
    c->set_target(pb::Compare::CREATE);
    c->set_create_revision(0);
  }
}

std::string TokenOf(std::int64_t lease) {
  std::string out;
  keys::PutFixed64(&out, static_cast<std::uint64_t>(lease));
  return out;
}

Result<CounterState> ParseCounter(const pb::RangeResponse& r, std::string_view id) {
  CounterState s;
  if (r.kvs_size() == 0) return s;
  if (!DecodeCounter(r.kvs(0).value(), &s.value)) {
    return Status::Corruption("the event counter of " + Quote(id) + " is malformed");
  }
  s.mod_revision = r.kvs(0).mod_revision();
  return s;
}

}  // namespace runic::internal::etcd
