// Hex and SHA-256, the one copy of each.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace kiln {

// Lower-case hex of raw bytes: "\x01\xab" -> "01ab".
std::string ToHex(std::string_view bytes);
// Raw SHA-256 digest (32 bytes).
std::string Sha256(std::string_view data);
// Incremental SHA-256 for data that comes in pieces.
class Sha256Builder {
 public:
  Sha256Builder();
  ~Sha256Builder();
  Sha256Builder(const Sha256Builder&) = delete;
  Sha256Builder& operator=(const Sha256Builder&) = delete;
  Sha256Builder& Update(std::string_view data);
  std::string Final();  // raw, 32 bytes
 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln
