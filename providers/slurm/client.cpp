#include "providers/slurm/client.h"

#include <chrono>
#include <thread>

namespace kiln::slurm {

using json = nlohmann::json;

namespace {

ProviderDiagnostic Err(std::string summary, std::string detail = "") {
  return {Severity::kError, std::move(summary), std::move(detail), {}};
}

std::string Snippet(const std::string& body) {
  std::string s = body.substr(0, 200);
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return body.size() > 200 ? s + "..." : s;
}

}  // namespace

Client::Client(std::shared_ptr<Http> http, ClientOptions options)
    : http_(std::move(http)), options_(std::move(options)) {
  while (!options_.url.empty() && options_.url.back() == '/') options_.url.pop_back();
}

bool Client::Negotiate(ProviderDiagnostics* diags) {
  json answer;
  std::vector<SlurmError> errors;
  if (!Get("/openapi/v3", &answer, &errors, diags)) return false;
  std::string error;
  adapter_ = ChooseAdapter(answer, &error);
  if (!adapter_) {
    diags->push_back(Err("slurmrestd at " + options_.url + " speaks no API version kiln knows", error));
    return false;
  }
  return true;
}

bool Client::Get(const std::string& path, json* answer, std::vector<SlurmError>* errors,
                 ProviderDiagnostics* diags) {
  return Call("GET", path, "", options_.read_attempts, answer, errors, nullptr, diags);
}

bool Client::Delete(const std::string& path, json* answer, std::vector<SlurmError>* errors,
                    ProviderDiagnostics* diags) {
  return Call("DELETE", path, "", options_.read_attempts, answer, errors, nullptr, diags);
}

bool Client::Post(const std::string& path, const json& body, json* answer, std::vector<SlurmError>* errors,
                  bool* lost, ProviderDiagnostics* diags) {
  return Call("POST", path, body.dump(), 1, answer, errors, lost, diags);
}

bool Client::Call(const std::string& method, const std::string& path, const std::string& body, int attempts,
                  json* answer, std::vector<SlurmError>* errors, bool* lost, ProviderDiagnostics* diags) {
  HttpRequest req;
  req.method = method;
  req.url = options_.url + path;
  req.body = body;
  req.connect_timeout_ms = options_.connect_timeout_ms;
  req.timeout_ms = options_.timeout_ms;
  req.headers = {{"X-SLURM-USER-NAME", options_.user}, {"X-SLURM-USER-TOKEN", options_.token}};
  if (method == "POST") req.headers.push_back({"Content-Type", "application/json"});
  const std::string what = method + " " + path;
  if (lost) *lost = false;
  int backoff = options_.backoff_ms;
  HttpResponse resp;
  json parsed;
  for (int attempt = 1;; ++attempt) {
    ++requests_;
    resp = http_->Send(req);
    parsed = resp.status ? json::parse(resp.body, nullptr, false) : json();
    bool slurm_answer = resp.status && !parsed.is_discarded() && parsed.is_object();
    bool retry = resp.status == 0 || (resp.status >= 500 && !slurm_answer);
    if (!retry || attempt >= attempts) break;
    if (options_.sleep) options_.sleep(backoff);
    else std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
    backoff *= 2;
  }
  if (resp.status == 0) {
    if (lost) *lost = true;
    diags->push_back(Err("cannot reach slurmrestd at " + options_.url + " (" + what + "): " + resp.error +
                             (attempts > 1 ? " (tried " + std::to_string(attempts) + " times)" : ""),
                         "is slurmrestd running and is the provider's `url` right?"));
    return false;
  }
  if (resp.status == 401 || resp.status == 403) {
    diags->push_back(Err("slurmrestd at " + options_.url + " refused the credentials of user `" + options_.user +
                             "` (HTTP " + std::to_string(resp.status) + " on " + what + ")",
                         "check the provider's `user` and `token` (a token from `scontrol token username=" +
                             options_.user + "`)"));
    return false;
  }
  if (parsed.is_discarded() || !parsed.is_object()) {
    diags->push_back(Err("slurmrestd answered " + what + " with HTTP " + std::to_string(resp.status) +
                             " and malformed JSON",
                         "the answer began: " + Snippet(resp.body)));
    return false;
  }
  std::string error;
  std::vector<SlurmError> errs;
  if (!adapter_ && path != "/openapi/v3") {
    diags->push_back(Err("internal: the slurm API version was not negotiated before " + what));
    return false;
  }
  // The openapi document has no errors[]; everything else is read through
  // the negotiated version.
  if (adapter_ && !adapter_->ParseErrors(parsed, &errs, &error)) {
    diags->push_back(Err("slurmrestd answered " + what + " with malformed JSON: " + error,
                         "the answer began: " + Snippet(resp.body)));
    return false;
  }
  *answer = std::move(parsed);
  if (errors) *errors = std::move(errs);
  return true;
}

ProviderDiagnostics SlurmDiagnostics(const std::string& what, const std::vector<SlurmError>& errors, Path attribute) {
  ProviderDiagnostics out;
  for (const auto& e : errors) {
    std::string code = e.code ? " (Slurm error " + std::to_string(e.code) + ")" : "";
    out.push_back({Severity::kError, what + ": slurm: " + e.message + code, "", attribute});
  }
  return out;
}

json JwtClaims(const std::string& token) {
  size_t a = token.find('.');
  size_t b = a == std::string::npos ? a : token.find('.', a + 1);
  if (b == std::string::npos) return json();
  std::string part = token.substr(a + 1, b - a - 1);
  std::string bin;
  int val = 0, bits = -8;
  for (char c : part) {
    int d;
    if (c >= 'A' && c <= 'Z') d = c - 'A';
    else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
    else if (c >= '0' && c <= '9') d = c - '0' + 52;
    else if (c == '-' || c == '+') d = 62;
    else if (c == '_' || c == '/') d = 63;
    else if (c == '=') break;
    else return json();
    val = (val << 6) | d;
    bits += 6;
    if (bits >= 0) {
      bin += static_cast<char>((val >> bits) & 0xff);
      bits -= 8;
    }
  }
  json claims = json::parse(bin, nullptr, false);
  return claims.is_object() ? claims : json();
}

}  // namespace kiln::slurm
