// slurmrestd as the provider sees it: JWT headers on every request, JSON
// answers whose errors[] become diagnostics in Slurm's own words, retries
// with backoff for reads (never for a submit), and version negotiation.
// The token goes into request headers and nowhere else.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "providers/provider.h"
#include "providers/slurm/api.h"
#include "providers/slurm/http.h"

namespace kiln::slurm {

struct ClientOptions {
  std::string url;    // "http://127.0.0.1:6820" (no trailing slash needed)
  std::string user;
  std::string token;  // sensitive
  int connect_timeout_ms = 5000;
  int timeout_ms = 30000;
  int read_attempts = 4;      // 1 + retries for GET/DELETE
  int backoff_ms = 250;       // doubled after each failed attempt
  std::function<void(int ms)> sleep;  // empty: really sleep
};

class Client {
 public:
  Client(std::shared_ptr<Http> http, ClientOptions options);

  // GET /openapi/v3 and pick the adapter; false with a diagnostic naming
  // what the server offers when it speaks none of ours.
  bool Negotiate(ProviderDiagnostics* diags);
  const Adapter& api() const { return *adapter_; }
  bool negotiated() const { return adapter_ != nullptr; }

  // A read (retried on no answer and on 5xx without a Slurm answer). True
  // when Slurm answered with JSON; its errors[] are in *errors (not yet
  // diagnostics: some, like an unknown job id, are answers). False with a
  // diagnostic when there was no usable answer.
  bool Get(const std::string& path, nlohmann::json* answer, std::vector<SlurmError>* errors,
           ProviderDiagnostics* diags);
  bool Delete(const std::string& path, nlohmann::json* answer, std::vector<SlurmError>* errors,
              ProviderDiagnostics* diags);
  // A submit: sent once. *lost is true when no answer came back, so the
  // request may or may not have reached Slurm (the caller looks the job up
  // before it submits again).
  bool Post(const std::string& path, const nlohmann::json& body, nlohmann::json* answer,
            std::vector<SlurmError>* errors, bool* lost, ProviderDiagnostics* diags);

  const std::string& url() const { return options_.url; }
  const std::string& user() const { return options_.user; }
  // Requests sent so far (tests and the bench count them).
  int64_t requests() const { return requests_.load(); }

 private:
  bool Call(const std::string& method, const std::string& path, const std::string& body, int attempts,
            nlohmann::json* answer, std::vector<SlurmError>* errors, bool* lost, ProviderDiagnostics* diags);

  std::shared_ptr<Http> http_;
  ClientOptions options_;
  std::unique_ptr<Adapter> adapter_;
  std::atomic<int64_t> requests_{0};
};

// Slurm's errors as diagnostics: "slurm: MESSAGE (error N)", prefixed with
// what was being done.
ProviderDiagnostics SlurmDiagnostics(const std::string& what, const std::vector<SlurmError>& errors,
                                     Path attribute = {});

// The claims of a JWT (its middle part), or null when it is not one. Used
// to explain a rejected token (expired, or issued for another user).
nlohmann::json JwtClaims(const std::string& token);

}  // namespace kiln::slurm
