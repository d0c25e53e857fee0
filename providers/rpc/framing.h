// LSP-style message framing: `Content-Length: N\r\n\r\n` then N bytes of
// JSON. Other headers (Content-Type) are allowed and ignored.
#pragma once

#include <cstddef>
#include <string>

namespace kiln::rpc {

// The frame for one message body.
std::string Frame(const std::string& body);

// Accumulates bytes from a stream and cuts them into message bodies.
class FrameReader {
 public:
  enum class Result { kNeedMore, kMessage, kError };
  static constexpr size_t kMaxMessage = 256u << 20;
  static constexpr size_t kMaxHeader = 4096;  // a longer header block is not one

  void Append(const char* data, size_t n) { buffer_.append(data, n); }
  // The next complete body, if any. kError (with *error set) means the
  // stream is not framed as expected; it cannot be resynchronised.
  Result Next(std::string* body, std::string* error);
  // Bytes received but not yet consumed (for error messages).
  const std::string& pending() const { return buffer_; }

 private:
  std::string buffer_;
};

}  // namespace kiln::rpc
