#include "core/hash.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SHA256.h"

namespace kiln {

std::string ToHex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

std::string Sha256(std::string_view data) { return Sha256Builder().Update(data).Final(); }

struct Sha256Builder::Impl {
  llvm::SHA256 sha;
};

Sha256Builder::Sha256Builder() : impl_(std::make_unique<Impl>()) {}
Sha256Builder::~Sha256Builder() = default;

Sha256Builder& Sha256Builder::Update(std::string_view data) {
  impl_->sha.update(llvm::StringRef(data.data(), data.size()));
  return *this;
}

std::string Sha256Builder::Final() { return impl_->sha.final().str(); }

}  // namespace kiln
