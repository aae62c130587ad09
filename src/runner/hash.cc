#include "runner/hash.h"

#include <openssl/evp.h>

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

Result<Value> DecodeValue(std::string_view bytes) {
  Value v = Value::from_cbor(bytes.begin(), bytes.end(), /*strict=*/true, /*allow_exceptions=*/false);
  if (v.is_discarded()) return Status::Corruption("a stored value is not valid CBOR");
  return v;
}

std::string FactHash(std::string_view encoded_value, std::string_view node, const std::vector<std::string>& parents) {
  // The bytes of EncodeValue([value, node, parents]), without copying the value.
  return Sha256Hex(CborWriter().Array(3).Raw(encoded_value).Text(node).TextArray(parents).Take());
}

std::string RunnableId(std::string_view node, const std::vector<std::string>& inputs) {
  return Sha256Hex(CborWriter().Array(2).Text(node).TextArray(inputs).Take()).substr(0, 32);
}

}  // namespace runic::internal
