// The HTTP seam of the slurm provider: one request in, one answer out.
// CurlHttp() is the real one (libcurl, with connect and request timeouts);
// tests give recorded answers instead.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kiln::slurm {

struct HttpRequest {
  std::string method = "GET";  // GET, POST, DELETE
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int connect_timeout_ms = 5000;
  int timeout_ms = 30000;
};

struct HttpResponse {
  int status = 0;       // 0: no answer (connection refused, timeout, ...)
  std::string body;
  std::string error;    // why there was no answer (curl's words)
};

class Http {
 public:
  virtual ~Http() = default;
  virtual HttpResponse Send(const HttpRequest& req) = 0;
};

std::shared_ptr<Http> CurlHttp();

}  // namespace kiln::slurm
