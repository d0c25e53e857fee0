#include "providers/kubernetes/client.h"

#include <curl/curl.h>
#include <yaml-cpp/yaml.h>

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>

namespace kiln::kube {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string Scalar(const YAML::Node& n, const char* key) {
  if (!n || !n.IsMap() || !n[key] || !n[key].IsScalar()) return "";
  return n[key].as<std::string>();
}

// A named entry of a kubeconfig list (`clusters`, `users`, `contexts`).
YAML::Node Named(const YAML::Node& root, const char* list, const std::string& name, const char* inner) {
  if (!root[list] || !root[list].IsSequence()) return YAML::Node();
  for (const auto& item : root[list])
    if (Scalar(item, "name") == name) return item[inner];
  return YAML::Node();
}

// Paths in a kubeconfig are relative to the file.
std::string Resolve(const std::string& file, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(file).parent_path() / p).string();
}

}  // namespace

std::string Unbase64(const std::string& in) {
  static const std::string kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (unsigned char c : in) {
    size_t pos = kChars.find(static_cast<char>(c));
    if (pos == std::string::npos) continue;
    val = (val << 6) + static_cast<int>(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

namespace {

// Inline base64 data (certificate-authority-data, ...) goes to a private
// temporary file for curl.
std::string WriteTemp(const std::string& content, const char* tag) {
  std::string tmpl = (fs::temp_directory_path() / (std::string("kiln-kube-") + tag + "-XXXXXX")).string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back(0);
  int fd = mkstemp(buf.data());
  if (fd < 0) return "";
  ssize_t n = write(fd, content.data(), content.size());
  close(fd);
  return n == static_cast<ssize_t>(content.size()) ? std::string(buf.data()) : "";
}

size_t CollectBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

class CurlTransport : public Transport {
 public:
  CurlTransport(Connection conn, int timeout_ms) : conn_(std::move(conn)), timeout_ms_(timeout_ms) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  HttpResponse Do(const HttpRequest& req) override {
    HttpResponse resp;
    CURL* curl = curl_easy_init();
    if (!curl) {
      resp.error = "cannot initialise libcurl";
      return resp;
    }
    std::string url = conn_.server + req.path;
    struct curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Accept: application/json");
    if (!conn_.token.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + conn_.token).c_str());
    if (!req.content_type.empty()) headers = curl_slist_append(headers, ("Content-Type: " + req.content_type).c_str());
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (!req.body.empty() || req.method == "PATCH" || req.method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CollectBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp.body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms_));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (conn_.insecure) {
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (!conn_.ca_file.empty()) {
      curl_easy_setopt(curl, CURLOPT_CAINFO, conn_.ca_file.c_str());
    }
    if (!conn_.client_cert_file.empty()) curl_easy_setopt(curl, CURLOPT_SSLCERT, conn_.client_cert_file.c_str());
    if (!conn_.client_key_file.empty()) curl_easy_setopt(curl, CURLOPT_SSLKEY, conn_.client_key_file.c_str());
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
      resp.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    } else {
      long code = 0;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
      resp.status = static_cast<int>(code);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return resp;
  }

 private:
  Connection conn_;
  int timeout_ms_;
};

std::string Escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace

bool LoadKubeconfig(const std::string& path, const std::string& context, Connection* out,
                    std::string* error) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    *error = "cannot read kubeconfig " + path;
    return false;
  } catch (const YAML::Exception& e) {
    *error = "kubeconfig " + path + " is not valid YAML: " + e.what();
    return false;
  }
  std::string ctx_name = context.empty() ? Scalar(root, "current-context") : context;
  if (ctx_name.empty()) {
    *error = "kubeconfig " + path + " has no current-context; set `context`";
    return false;
  }
  YAML::Node ctx = Named(root, "contexts", ctx_name, "context");
  if (!ctx || ctx.IsNull()) {
    std::string names;
    if (root["contexts"] && root["contexts"].IsSequence())
      for (const auto& c : root["contexts"]) names += (names.empty() ? "" : ", ") + Scalar(c, "name");
    *error = "kubeconfig " + path + " has no context `" + ctx_name + "`" +
             (names.empty() ? "" : " (it has: " + names + ")");
    return false;
  }
  std::string cluster_name = Scalar(ctx, "cluster"), user_name = Scalar(ctx, "user");
  YAML::Node cluster = Named(root, "clusters", cluster_name, "cluster");
  if (!cluster || cluster.IsNull()) {
    *error = "kubeconfig " + path + ": context `" + ctx_name + "` names cluster `" + cluster_name +
             "`, which is not defined";
    return false;
  }
  out->server = Scalar(cluster, "server");
  out->insecure = Scalar(cluster, "insecure-skip-tls-verify") == "true";
  out->ca_file = Resolve(path, Scalar(cluster, "certificate-authority"));
  if (std::string data = Scalar(cluster, "certificate-authority-data"); !data.empty())
    out->ca_file = WriteTemp(Unbase64(data), "ca");
  out->namespace_ = Scalar(ctx, "namespace");
  YAML::Node user = Named(root, "users", user_name, "user");
  if (user && user.IsMap()) {
    out->token = Scalar(user, "token");
    if (std::string tf = Scalar(user, "tokenFile"); out->token.empty() && !tf.empty()) {
      std::ifstream in(Resolve(path, tf));
      std::getline(in, out->token);
    }
    out->client_cert_file = Resolve(path, Scalar(user, "client-certificate"));
    out->client_key_file = Resolve(path, Scalar(user, "client-key"));
    if (std::string d = Scalar(user, "client-certificate-data"); !d.empty())
      out->client_cert_file = WriteTemp(Unbase64(d), "cert");
    if (std::string d = Scalar(user, "client-key-data"); !d.empty())
      out->client_key_file = WriteTemp(Unbase64(d), "key");
    if (user["exec"] && out->token.empty() && out->client_cert_file.empty()) {
      *error = "kubeconfig " + path + ": user `" + user_name +
               "` authenticates with an exec plugin, which kiln does not run; set `token` instead";
      return false;
    }
  }
  if (out->server.empty()) {
    *error = "kubeconfig " + path + ": cluster `" + cluster_name + "` has no server";
    return false;
  }
  while (!out->server.empty() && out->server.back() == '/') out->server.pop_back();
  return true;
}

std::unique_ptr<Transport> NewCurlTransport(const Connection& conn, int timeout_ms) {
  return std::make_unique<CurlTransport>(conn, timeout_ms);
}

std::string DescribeFailure(const std::string& server, const std::string& what, const HttpResponse& r,
                            const json& body) {
  if (r.status == 0) return "cannot reach the Kubernetes API server at " + server + " (" + what + "): " + r.error;
  std::string message = body.is_object() ? body.value("message", "") : "";
  if (message.empty()) message = r.body.substr(0, 300);
  if (r.status == 401)
    return "the Kubernetes API server at " + server +
           " rejected the credentials (401 Unauthorized) during " + what +
           ": check the provider's `token` (or the kubeconfig user)";
  if (r.status == 403) return "forbidden (403) during " + what + ": " + message;
  return what + " failed (" + std::to_string(r.status) + "): " + message;
}

std::vector<Conflict> ParseConflicts(const json& status) {
  std::vector<Conflict> out;
  if (!status.is_object() || !status.contains("details") || !status["details"].contains("causes")) return out;
  for (const auto& c : status["details"]["causes"]) {
    if (c.value("reason", "") != "FieldManagerConflict") continue;
    std::string msg = c.value("message", "");
    // conflict with "kubectl" using apps/v1
    std::string manager;
    size_t a = msg.find('"');
    size_t b = a == std::string::npos ? a : msg.find('"', a + 1);
    if (b != std::string::npos) manager = msg.substr(a + 1, b - a - 1);
    out.push_back({manager, c.value("field", "")});
  }
  return out;
}

std::string Base64(const std::string& bytes) {
  static const char* kChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kChars[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kChars[(v >> 18) & 63];
    out += kChars[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kChars[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result Client::Call(const std::string& method, const std::string& path, const std::string& content_type,
                    const std::string& body) {
  HttpResponse r = transport_->Do({method, path, content_type, body});
  Result res;
  res.status = r.status;
  res.body = json::parse(r.body, nullptr, false);
  if (res.body.is_discarded()) res.body = json();
  if (res.body.is_object()) res.reason = res.body.value("reason", "");
  if (!res.ok()) {
    std::string p = path.substr(0, path.find('?'));
    res.error = DescribeFailure(server_, method + " " + p, r, res.body);
  }
  return res;
}

std::string Client::CollectionPath(const ResourceType& t, const std::string& ns) {
  std::string base = t.api_version.find('/') == std::string::npos ? "/api/" + t.api_version
                                                                   : "/apis/" + t.api_version;
  if (t.namespaced && !ns.empty()) base += "/namespaces/" + Escape(ns);
  return base + "/" + t.plural;
}

std::string Client::ObjectPath(const ResourceType& t, const std::string& ns, const std::string& name) {
  return CollectionPath(t, ns) + "/" + Escape(name);
}

Result Client::Get(const ResourceType& t, const std::string& ns, const std::string& name) {
  return Call("GET", ObjectPath(t, ns, name));
}

Result Client::Apply(const ResourceType& t, const json& object, bool force, bool dry_run) {
  const json& md = object["metadata"];
  std::string path = ObjectPath(t, md.value("namespace", ""), md.value("name", "")) + "?fieldManager=kiln";
  if (force) path += "&force=true";
  if (dry_run) path += "&dryRun=All";
  // JSON is YAML: the apply patch is the object itself.
  return Call("PATCH", path, "application/apply-patch+yaml", object.dump());
}

Result Client::Delete(const ResourceType& t, const std::string& ns, const std::string& name) {
  json opts = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", "Foreground"}};
  Result r = Call("DELETE", ObjectPath(t, ns, name), "application/json", opts.dump());
  if (r.not_found()) {
    r.status = 200;
    r.error.clear();
  }
  return r;
}

Result Client::List(const ResourceType& t, const std::string& ns, const std::string& label_selector) {
  std::string path = CollectionPath(t, ns);
  if (!label_selector.empty()) path += "?labelSelector=" + Escape(label_selector);
  return Call("GET", path);
}

}  // namespace kiln::kube
