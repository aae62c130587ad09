// The C++ examples of README.md, verbatim, so that they keep compiling
// warning-free with the flags a user builds with (-Wall -Wextra; built with
// -Werror). Compiled, never run: the stubs only give the examples' free
// names (their functions, `store`, `log`, ...) something to refer to. When
// an example in README.md changes, change it here too, byte for byte.
//
// Each example's own `#include <runic/runic.h>` is kept: inside a function
// it expands to nothing, runic.h having been included above.
#include <runic/runic.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace readme {

runic::Result<runic::Value> validate(const runic::Value& v, std::stop_token) { return v; }
runic::Result<runic::Value> check_inventory(const runic::Value& v, std::stop_token) { return v; }
runic::Result<runic::Value> screen_fraud(const runic::Value& v, std::stop_token) { return v; }
runic::Result<runic::Value> estimate_shipping(const runic::Value& v, std::stop_token) { return v; }
runic::Result<runic::Value> finalize(const std::vector<runic::Value>& v, std::stop_token) { return v.at(0); }
runic::Result<runic::Value> finalize_order(const runic::Value& v, std::stop_token) { return v; }
runic::Result<runic::Value> charge(const runic::Value& v, std::stop_token) { return v; }
runic::Result<runic::Value> send_reminder(const runic::Value& v, std::stop_token) { return v; }
runic::Result<runic::Value> split_into_chunks(const runic::Value& v, std::stop_token) { return v; }
runic::Result<runic::Value> embed_chunk(const runic::Value& v, std::stop_token) { return v; }
runic::Result<runic::Value> publish(const runic::Value& v, std::stop_token) { return v; }
runic::Result<runic::Value> store_document(const runic::Value& v, std::stop_token) { return v; }
runic::Result<runic::Value> announce(const runic::Value& v, std::stop_token) { return v; }
runic::Status delete_document(const runic::Value&, const runic::Value&, std::string_view) {
  return runic::Status::OK();
}
void log(const std::string&) {}
void use(std::uint64_t, std::string_view) {}
void handle(const runic::Status&) {}

// clang-format off
// README "Durable waits, signals and controls".
void WaitsExample(runic::Runner* runner, runic::Value payment_json) {
// Wait for the payment webhook, at most 24 h; send a reminder in an hour.
auto order = *runic::Workflow::Builder("order", 1)
    .Step("finalize", finalize_order)
    .Await("paid", "payment", "finalize", std::chrono::hours(24))  // {"input": ..., "signal": ...}
    .Step("charge", charge, "paid")
    .Delay("remind", std::chrono::hours(1), "finalize")            // a durable timer
    .Step("send_reminder", send_reminder, "remind")
    .Build();

// From the webhook handler, in any process that can open the store:
runic::Status s = runner->Signal("order-1001", "payment", payment_json, /*key=*/"pay-1001");
s = runner->Cancel("order-1002", "customer asked");   // also Terminate, Pause, Unpause, Retry
handle(s);
}

// README "The Runner".
void RunnerExample(std::unique_ptr<runic::Store> store, runic::Value order_json) {
#include <runic/runic.h>

// A workflow is a named, versioned graph of C++ functions over JSON values.
runic::StepPolicy retry;                     // plain struct: set what differs from the defaults
retry.max_retries = 3;
retry.backoff = runic::Backoff::kExponential;
auto workflow = *runic::Workflow::Builder("orders", 1)
    .Step("validate", validate)                        // root: fed by Run()
    .Step("inventory", check_inventory, "validate")    // chain
    .Step("fraud", screen_fraud, "inventory")          // fan-out ...
    .Step("shipping", estimate_shipping, "inventory")  // ... in parallel
    .Join("finalize", {"fraud", "shipping"}, finalize) // waits for both
    .Policy("inventory", retry)
    .Build();

runic::RunnerOptions options;
options.store = store.get();                 // any engine; nullptr: in memory only
auto runner = *runic::Runner::Create(options);
runic::Status s = runner->StartWorkflow("order-1001", workflow);
s = runner->Run("order-1001", order_json);   // returns once the input is durable
s = runner->AwaitIdle("order-1001", std::chrono::seconds(30));
auto results = runner->GetResults("order-1001");   // values by node

// In a new process after a crash:
s = runner->Register(workflow);              // functions cannot be stored: definitions by name and version
auto resumed = runner->ResumeAll();          // every unfinished workflow in the store

// Without running anything (tools, dashboards, tests): what the store holds.
auto history = runic::ReadHistory(*store, "order-1001");  // definition, events, state, results
}

// README "The store".
void StoreExample(std::string log_bytes) {
#include <runic/runic.h>

auto db = runic::Database::OpenUri("disk:///var/lib/app/runic");  // or memory:
if (!db.ok()) { log(db.status().ToString()); return; }
auto store = (*db)->OpenStore("orders");               // one runner's tables
runic::Status s = (*store)->Save("order-1001", log_bytes);

// Append is atomic: all events or none, sequences counter+1 .. counter+n.
runic::Result<std::uint64_t> cursor =
    (*store)->Append("order-1001", std::vector<std::string>{"placed", "paid"});

// Stream is lazy and consistent: the events up to the counter at this moment.
auto stream = (*store)->Stream("order-1001", {.after = 0});
if (!stream.ok()) { log(stream.status().ToString()); return; }  // NotFound, Trimmed, ...
runic::EventIterator& it = **stream;
for (; it.Valid(); it.Next()) use(it.sequence(), it.value());
if (!it.status().ok()) handle(it.status());  // Valid() is also false after an error
}

// README "Replicated on etcd".
void EtcdExample(std::string secret) {
runic::DatabaseOptions options;
options.nodes = {"10.0.0.1:2379", "10.0.0.2:2379", "10.0.0.3:2379"};
options.dir = "orders";                       // the database's name in the cluster
options.etcd.tls_ca_file = "/etc/runic/ca.pem";
options.etcd.user = "runic"; options.etcd.password = secret;
auto db = runic::Database::Open(options);     // Unavailable if no member answers
}
// README "Maps and reduces".
void MapExample() {
// Process each chunk of a document in parallel, then combine them.
auto ingest = *runic::Workflow::Builder("ingest", 1)
    .Map("chunks", split_into_chunks)          // input -> an array
    .Step("embed", embed_chunk, "chunks")      // once per element
    .Reduce("combined", "chunks", "embed", runic::Value::array(),
            [](runic::Value acc, const runic::Value& v) -> runic::Result<runic::Value> {
              acc.push_back(v);
              return acc;
            })
    .Step("publish", publish, "combined")
    .Build();
(void)ingest;
}
// README "Sagas: compensations".
void SagaExample() {
// Undo what was done when publishing fails, or when the document is cancelled.
runic::StepPolicy compensate;
compensate.on_failure = runic::OnFailure::kCompensate;   // halt, after the compensations ran
auto publishing = *runic::Workflow::Builder("publishing", 1)
    .Step("store", store_document)
    .Step("announce", announce, "store")
    .Compensate("store", [](const runic::Value& input, const runic::Value& output,
                            const runic::StepContext& ctx) -> runic::Status {
      return delete_document(input, output, ctx.idempotency_key);  // applied once per key
    })
    .Policy("announce", compensate)
    .Build();
(void)publishing;
}
// clang-format on

}  // namespace readme
