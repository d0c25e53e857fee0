// kiln-provider-bench: a JSON-RPC provider plugin for the benchmarks. It
// implements the core kinds cluster, datastore and training_job without
// touching anything: computed attributes are derived from the address, so a
// plan knows them, apply returns the plan, and read returns the state it is
// given (no drift). It answers the per-object `validate`, `plan` and `read`
// and, announcing the capabilities "read_batch", "validate_batch" and
// "plan_batch", their batch forms ({reads|validates|plans: [params of one
// call]} -> {results: [result of one call]}, in order). With
// KILN_BENCH_BATCH=0 in its environment it announces only "read_batch"
// (a plugin without batch validates and plans, for comparisons).
//
// Framing is the Language Server Protocol's (docs/providers.md).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

using nlohmann::json;

namespace {

// Computed attributes of each kind (stdlib/kinds.kiln), from the address.
void FillComputed(const std::string& kind, const std::string& address, json& obj) {
  obj["id"] = address;
  if (kind == "cluster") {
    obj["status"] = "ready";
  } else if (kind == "datastore") {
    obj["uri"] = "bench://" + address;
  } else if (kind == "training_job") {
    obj["status"] = "running";
    obj["checkpoint"] = "bench://" + address + "/checkpoint";
    obj["exit_code"] = nullptr;
  }
}

json Fields() { return json{{"fields", json::object()}}; }

json PlanOne(const json& params) {
  json planned = params.value("config", json::object());
  FillComputed(params.value("kind", ""), params.value("address", ""), planned);
  return {{"planned", planned}, {"requires_replace", json::array()}, {"diagnostics", json::array()}};
}

json Capabilities() {
  const char* batch = std::getenv("KILN_BENCH_BATCH");
  if (batch && std::string(batch) == "0") return json::array({"read_batch"});
  return json::array({"read_batch", "validate_batch", "plan_batch"});
}

json Handle(const std::string& method, const json& params, bool* known) {
  *known = true;
  if (method == "initialize")
    return {{"name", "bench"},
            {"version", "0.1.0"},
            {"protocol_version", 1},
            {"config", Fields()},
            {"kinds", {{"cluster", Fields()}, {"datastore", Fields()}, {"training_job", Fields()}}},
            {"capabilities", Capabilities()}};
  if (method == "configure" || method == "validate" || method == "delete")
    return {{"diagnostics", json::array()}};
  if (method == "plan") return PlanOne(params);
  if (method == "validate_batch") {
    json results = json::array();
    size_t n = params.contains("validates") ? params["validates"].size() : 0;
    for (size_t i = 0; i < n; ++i) results.push_back({{"diagnostics", json::array()}});
    return {{"results", std::move(results)}};
  }
  if (method == "plan_batch") {
    json results = json::array();
    for (const auto& p : params.value("plans", json::array())) results.push_back(PlanOne(p));
    return {{"results", std::move(results)}};
  }
  if (method == "apply") return {{"state", params.value("planned", json())}, {"diagnostics", json::array()}};
  if (method == "read") return {{"state", params.value("state", json())}};
  if (method == "read_batch") {
    json results = json::array();
    for (const auto& r : params.value("reads", json::array()))
      results.push_back({{"state", r.value("state", json())}, {"diagnostics", json::array()}});
    return {{"results", std::move(results)}};
  }
  if (method == "import") return {{"state", nullptr}, {"diagnostics", json::array()}};
  if (method == "shutdown") return json::object();
  *known = false;
  return nullptr;
}

bool ReadMessage(std::string* body) {
  size_t length = 0;
  bool have_length = false;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      if (!have_length) continue;
      body->resize(length);
      return static_cast<bool>(std::cin.read(body->data(), static_cast<std::streamsize>(length)));
    }
    const char* key = "Content-Length:";
    if (line.compare(0, std::strlen(key), key) == 0) {
      length = std::stoul(line.substr(std::strlen(key)));
      have_length = true;
    }
  }
  return false;
}

void WriteMessage(const json& msg) {
  std::string body = msg.dump();
  std::cout << "Content-Length: " << body.size() << "\r\n\r\n" << body;
  std::cout.flush();
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::string body;
  while (ReadMessage(&body)) {
    json req = json::parse(body, nullptr, false);
    if (req.is_discarded() || !req.is_object()) {
      std::fprintf(stderr, "bench provider: malformed request\n");
      return 1;
    }
    std::string method = req.value("method", "");
    if (!req.contains("id")) continue;  // a notification
    bool known = false;
    json result = Handle(method, req.value("params", json::object()), &known);
    json answer = {{"jsonrpc", "2.0"}, {"id", req["id"]}};
    if (known) answer["result"] = std::move(result);
    else answer["error"] = {{"code", -32601}, {"message", "method not found: " + method}};
    WriteMessage(answer);
    if (method == "shutdown") return 0;
  }
  return 0;
}
