// A recorded slurmrestd for unit tests: answers by "METHOD PATH" from the
// files in tests/slurm/testdata, counts requests, and can lose answers.
#pragma once

#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>

#include "providers/slurm/http.h"

namespace kiln::slurm::testing {

inline std::string Recorded(const std::string& name) {
  std::ifstream in(std::string(KILN_SOURCE_DIR) + "/tests/slurm/testdata/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class RecordedHttp : public Http {
 public:
  // "GET /slurm/v0.0.38/jobs" -> answer. A status 0 answer is "no answer".
  std::map<std::string, HttpResponse> answers;
  // Called for each request before the answer is looked up (may change it).
  std::function<void(const HttpRequest&, HttpResponse*)> hook;
  std::vector<HttpRequest> seen;

  HttpResponse Send(const HttpRequest& req) override {
    std::lock_guard<std::mutex> lock(mu_);
    seen.push_back(req);
    std::string path = req.url.substr(req.url.find('/', req.url.find("//") + 2));
    HttpResponse resp;
    auto it = answers.find(req.method + " " + path);
    if (it != answers.end()) resp = it->second;
    else resp = {404, "{\"errors\": [{\"error\": \"no recording for " + req.method + " " + path + "\"}]}", ""};
    if (hook) hook(req, &resp);
    return resp;
  }

  int Count(const std::string& method_path) {
    int n = 0;
    for (const auto& r : seen) {
      std::string path = r.url.substr(r.url.find('/', r.url.find("//") + 2));
      if (r.method + " " + path == method_path) ++n;
    }
    return n;
  }

  // The standard recordings of the test cluster (tests/slurm/slurm_cluster.sh).
  void LoadCluster() {
    answers["GET /openapi/v3"] = {200, Recorded("openapi_v0.0.38.json"), ""};
    answers["GET /slurm/v0.0.38/ping"] = {200, Recorded("ping_ok.json"), ""};
    answers["GET /slurm/v0.0.38/partitions"] = {200, Recorded("partitions.json"), ""};
    answers["GET /slurm/v0.0.38/nodes"] = {200, Recorded("nodes.json"), ""};
    answers["GET /slurm/v0.0.38/jobs"] = {200, Recorded("jobs.json"), ""};
  }

 private:
  std::mutex mu_;
};

}  // namespace kiln::slurm::testing
