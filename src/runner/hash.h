// SHA-256 in hex, for fact hashes, runnable ids and fingerprints.
#ifndef RUNIC_SRC_RUNNER_HASH_H_
#define RUNIC_SRC_RUNNER_HASH_H_

#include <string>
#include <string_view>
#include <vector>

#include "runic/workflow.h"

namespace runic::internal {

std::string Sha256Hex(std::string_view bytes);

// The compact, canonical encoding of values (CBOR; object keys sorted).
std::string EncodeValue(const Value& value);
// kCorruption when `bytes` are not one CBOR item, or nest deeper than
// kMaxValueDepth (plus the few levels of the Runner's own records).
Result<Value> DecodeValue(std::string_view bytes);
// Whether no item in `bytes` (CBOR) nests deeper than `limit` arrays, maps
// or tags; without recursion, so that it is safe on any bytes (malformed
// ones count as within: decoding refuses them).
bool CborNestingWithin(std::string_view bytes, std::size_t limit);

// A fact's hash: over the value (as EncodeValue gives it), the producing node
// ("" for an input) and the parent facts' hashes. Stable across builds and
// machines: tests pin known hashes.
std::string FactHash(std::string_view encoded_value, std::string_view node, const std::vector<std::string>& parents);

// A runnable's id: the node and the facts it consumes.
std::string RunnableId(std::string_view node, const std::vector<std::string>& inputs);

}  // namespace runic::internal

#endif  // RUNIC_SRC_RUNNER_HASH_H_
