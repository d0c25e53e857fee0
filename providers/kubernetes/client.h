// The Kubernetes REST client of the kubernetes provider: connection settings
// (explicit, or from a kubeconfig read with yaml-cpp), an HTTP seam (libcurl
// for real, recorded answers in tests), server-side apply, discovery and the
// API's Status errors turned into one readable message each.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kiln::kube {

struct Connection {
  std::string server;  // https://host:port, no trailing slash
  std::string token;   // bearer token (never logged)
  std::string ca_file;
  std::string client_cert_file, client_key_file;
  bool insecure = false;
  std::string namespace_;  // default namespace ("" = unset)
};

// Fills *out from the kubeconfig file at `path` and `context` ("" = its
// current-context). False with *error naming the file and what is missing.
bool LoadKubeconfig(const std::string& path, const std::string& context, Connection* out,
                    std::string* error);

struct HttpRequest {
  std::string method;  // GET, PATCH, DELETE, POST
  std::string path;    // /api/v1/namespaces?x=y (with the query)
  std::string content_type;
  std::string body;
};
struct HttpResponse {
  int status = 0;     // 0: no answer (transport error in `error`)
  std::string body;
  std::string error;  // curl's message when status is 0
};

// The seam: one call, one answer. Thread-safe.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual HttpResponse Do(const HttpRequest& req) = 0;
};
std::unique_ptr<Transport> NewCurlTransport(const Connection& conn, int timeout_ms = 30000);

// What an API call returned, or why it failed.
struct Result {
  int status = 0;
  nlohmann::json body;   // parsed answer (null when not JSON)
  std::string error;     // one readable message when !ok()
  std::string reason;    // Status.reason ("NotFound", "Conflict", "Forbidden", ...)
  bool ok() const { return status >= 200 && status < 300; }
  bool not_found() const { return status == 404; }
};

// Where an object lives in the REST API.
struct ResourceType {
  std::string api_version;  // "v1", "apps/v1"
  std::string kind;         // "Deployment"
  std::string plural;       // "deployments"
  bool namespaced = true;
};

class Client {
 public:
  Client(std::unique_ptr<Transport> transport, std::string server)
      : transport_(std::move(transport)), server_(std::move(server)) {}

  Result Call(const std::string& method, const std::string& path, const std::string& content_type = "",
              const std::string& body = "");
  // The object's URL path ("" namespace for cluster-scoped ones).
  static std::string ObjectPath(const ResourceType& t, const std::string& ns, const std::string& name);
  static std::string CollectionPath(const ResourceType& t, const std::string& ns);

  Result Get(const ResourceType& t, const std::string& ns, const std::string& name);
  // Server-side apply of `object` (fieldManager=kiln).
  Result Apply(const ResourceType& t, const nlohmann::json& object, bool force, bool dry_run);
  // DELETE with foreground propagation; a 404 counts as success.
  Result Delete(const ResourceType& t, const std::string& ns, const std::string& name);
  Result List(const ResourceType& t, const std::string& ns, const std::string& label_selector);

  const std::string& server() const { return server_; }

 private:
  std::unique_ptr<Transport> transport_;
  std::string server_;
};

// The readable message of a failed call: transport errors name the server;
// 401, 403 and 409 get what the user should do.
std::string DescribeFailure(const std::string& server, const std::string& what, const HttpResponse& r,
                            const nlohmann::json& body);

// One field-manager conflict of a 409 answer to a server-side apply.
struct Conflict {
  std::string manager;  // "kubectl", "before-first-apply", ...
  std::string field;    // ".spec.replicas"
};
std::vector<Conflict> ParseConflicts(const nlohmann::json& status);

// Base64 (standard alphabet, padded) for Secret data.
std::string Base64(const std::string& bytes);
std::string Unbase64(const std::string& text);

}  // namespace kiln::kube
