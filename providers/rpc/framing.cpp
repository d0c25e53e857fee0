#include "providers/rpc/framing.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace kiln::rpc {

namespace {

std::string Printable(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 60)) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (std::isprint(static_cast<unsigned char>(c))) out += c;
    else out += '?';
  }
  return out;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

std::string Frame(const std::string& body) {
  return "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

FrameReader::Result FrameReader::Next(std::string* body, std::string* error) {
  // Headers end at the first blank line. Accept bare \n line ends too:
  // hand-written plugins get this wrong and it costs nothing to allow.
  // Only the header block is searched: a large body arrives in many reads,
  // and scanning all of it at each one would be quadratic.
  std::string_view head(buffer_.data(), std::min(buffer_.size(), kMaxHeader + 4));
  size_t end = head.find("\r\n\r\n");
  size_t sep = 4;
  size_t bare = head.substr(0, end == std::string::npos ? head.size() : end + 2).find("\n\n");
  if (bare != std::string::npos && (end == std::string::npos || bare < end)) {
    end = bare;
    sep = 2;
  }
  if (end == std::string::npos) {
    // A header block longer than this is not a header block.
    if (buffer_.size() > kMaxHeader || (!buffer_.empty() && Lower(buffer_.substr(0, 1)) != "c" &&
                                  buffer_[0] != '\r' && buffer_[0] != '\n')) {
      *error = "expected a `Content-Length:` header, got \"" + Printable(buffer_) + "\"";
      return Result::kError;
    }
    return Result::kNeedMore;
  }
  std::string headers = buffer_.substr(0, end);
  long long length = -1;
  size_t pos = 0;
  while (pos <= headers.size()) {
    size_t nl = headers.find('\n', pos);
    std::string line = headers.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    pos = nl == std::string::npos ? headers.size() + 1 : nl + 1;
    if (line.empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      *error = "malformed header line \"" + Printable(line) + "\"";
      return Result::kError;
    }
    if (Lower(line.substr(0, colon)) != "content-length") continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t") + 1);
    if (value.empty() || value.size() > 12 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return std::isdigit(c); })) {
      *error = "bad Content-Length \"" + Printable(value) + "\"";
      return Result::kError;
    }
    length = std::stoll(value);
  }
  if (length < 0) {
    *error = "message without a Content-Length header";
    return Result::kError;
  }
  if (static_cast<size_t>(length) > kMaxMessage) {
    *error = "message of " + std::to_string(length) + " bytes is larger than the limit";
    return Result::kError;
  }
  size_t start = end + sep;
  if (buffer_.size() - start < static_cast<size_t>(length)) return Result::kNeedMore;
  *body = buffer_.substr(start, length);
  buffer_.erase(0, start + length);
  return Result::kMessage;
}

}  // namespace kiln::rpc
