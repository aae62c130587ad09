// CborWriter: writes CBOR (RFC 8949) items straight into bytes, for the
// Runner's events and hash inputs, which are written on every step: building
// a nlohmann::json tree first costs an allocation per key and value.
//
// Heads use the shortest form, as nlohmann::json::to_cbor does, so that an
// item written here has the same bytes as the same value encoded by
// EncodeValue (fact hashes depend on it). Maps are written in the order the
// caller gives; events are decoded into nlohmann::json, which sorts them.
#ifndef RUNIC_SRC_RUNNER_CBOR_WRITER_H_
#define RUNIC_SRC_RUNNER_CBOR_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace runic::internal {

class CborWriter {
 public:
  CborWriter& Map(std::size_t entries) { return Head(5, entries); }
  CborWriter& Array(std::size_t items) { return Head(4, items); }
  CborWriter& Text(std::string_view s) {
    Head(3, s.size());
    out_.append(s);
    return *this;
  }
  CborWriter& Uint(std::uint64_t v) { return Head(0, v); }
  CborWriter& Int(std::int64_t v) {
    return v >= 0 ? Head(0, static_cast<std::uint64_t>(v)) : Head(1, static_cast<std::uint64_t>(-1 - v));
  }
  CborWriter& Bool(bool b) {
    out_.push_back(static_cast<char>(b ? 0xf5 : 0xf4));
    return *this;
  }
  CborWriter& Null() {
    out_.push_back(static_cast<char>(0xf6));
    return *this;
  }
  CborWriter& TextArray(const std::vector<std::string>& items) {
    Array(items.size());
    for (const std::string& s : items) Text(s);
    return *this;
  }
  // An item already encoded as CBOR.
  CborWriter& Raw(std::string_view cbor) {
    out_.append(cbor);
    return *this;
  }

  std::string Take() { return std::move(out_); }

 private:
  CborWriter& Head(unsigned major, std::uint64_t v) {
    const auto m = static_cast<std::uint8_t>(major << 5);
    if (v < 24) return Byte(m | static_cast<std::uint8_t>(v));
    int bytes = 8;
    std::uint8_t info = 27;
    if (v <= 0xff) {
      bytes = 1, info = 24;
    } else if (v <= 0xffff) {
      bytes = 2, info = 25;
    } else if (v <= 0xffffffffu) {
      bytes = 4, info = 26;
    }
    Byte(m | info);
    for (int i = bytes - 1; i >= 0; --i) Byte(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  CborWriter& Byte(std::uint8_t b) {
    out_.push_back(static_cast<char>(b));
    return *this;
  }

  std::string out_;
};

}  // namespace runic::internal

#endif  // RUNIC_SRC_RUNNER_CBOR_WRITER_H_
