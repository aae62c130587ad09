#include "runner/hash.h"

#include <openssl/evp.h>

#include <optional>

#include "runner/cbor_writer.h"

namespace runic::internal {

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

std::string EncodeValue(const Value& value) {
  std::vector<std::uint8_t> cbor = Value::to_cbor(value);
  return std::string(cbor.begin(), cbor.end());
}

bool CborNestingWithin(std::string_view bytes, std::size_t limit) {
  // Each level takes a byte at least: short values (nearly all) need no scan.
  if (bytes.size() <= limit) return true;
  constexpr std::uint64_t kIndefinite = ~std::uint64_t{0};
  // Items still to read in each open container; the first entry stands for
  // the top-level item (depth 0).
  std::vector<std::uint64_t> left{1};
  std::size_t i = 0;
  while (i < bytes.size()) {
    while (!left.empty() && left.back() == 0) left.pop_back();
    if (left.empty()) return true;  // the top item is complete
    const auto head = static_cast<std::uint8_t>(bytes[i++]);
    if (head == 0xff) {                             // the break that closes an indefinite container
      if (left.back() != kIndefinite) return true;  // malformed: the decoder says so
      left.pop_back();
      continue;
    }
    if (left.back() != kIndefinite) --left.back();
    const unsigned major = head >> 5, info = head & 31;
    std::uint64_t arg = info;
    if (info >= 24 && info <= 27) {
      const std::size_t n = std::size_t{1} << (info - 24);
      if (n > bytes.size() - i) return true;  // truncated: the decoder says so
      arg = 0;
      for (std::size_t k = 0; k < n; ++k) arg = (arg << 8) | static_cast<std::uint8_t>(bytes[i++]);
    } else if (info == 31) {
      arg = kIndefinite;
    } else if (info > 27) {
      return true;  // reserved: malformed
    }
    std::optional<std::uint64_t> opens;  // the items of a container this head opens
    switch (major) {
      case 2:
      case 3:  // byte and text strings: skipped, or an indefinite run of chunks
        if (arg == kIndefinite) {
          opens = kIndefinite;
        } else {
          if (arg > bytes.size() - i) return true;
          i += static_cast<std::size_t>(arg);
        }
        break;
      case 4:
        opens = arg;
        break;
      case 5:
        opens = arg == kIndefinite ? kIndefinite : (arg > kIndefinite / 2 ? kIndefinite - 1 : arg * 2);
        break;
      case 6:
        opens = 1;  // a tag wraps one item
        break;
      default:  // integers, floats, simple values: nothing inside
        break;
    }
    if (opens) {
      left.push_back(*opens);
      if (left.size() - 1 > limit) return false;
    }
  }
  return true;
}

Result<Value> DecodeValue(std::string_view bytes) {
  // The decoder recurses once per level: bytes nested deeper than any value
  // the Runner writes are refused before they can exhaust the stack.
  if (!CborNestingWithin(bytes, kMaxValueDepth + 8)) {
    return Status::Corruption("a stored value nests deeper than " + std::to_string(kMaxValueDepth) + " levels");
  }
  try {
    Value v = Value::from_cbor(bytes.begin(), bytes.end(), /*strict=*/true, /*allow_exceptions=*/false);
    if (v.is_discarded()) return Status::Corruption("a stored value is not valid CBOR");
    return v;
  } catch (const Value::exception& e) {
    // Some refusals throw even without exceptions (an array whose declared
    // size is beyond what any container holds).
    return Status::Corruption(std::string("a stored value is not valid CBOR: ") + e.what());
  }
}

std::string FactHash(std::string_view encoded_value, std::string_view node, const std::vector<std::string>& parents) {
  // The bytes of EncodeValue([value, node, parents]), without copying the value.
  return Sha256Hex(CborWriter().Array(3).Raw(encoded_value).Text(node).TextArray(parents).Take());
}

std::string RunnableId(std::string_view node, const std::vector<std::string>& inputs) {
  return Sha256Hex(CborWriter().Array(2).Text(node).TextArray(inputs).Take()).substr(0, 32);
}

}  // namespace runic::internal
