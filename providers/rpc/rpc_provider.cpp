#include "providers/rpc/rpc_provider.h"

#include <cstdlib>

#include "providers/rpc/rpc_client.h"

namespace kiln::rpc {

using json = nlohmann::json;

namespace {

#ifndef KILN_VERSION
#define KILN_VERSION "0.0.0"
#endif

ProviderDiagnostic Error(std::string summary, std::string detail = "") {
  return {Severity::kError, std::move(summary), std::move(detail), {}};
}

bool ParseFields(const json& j, std::map<std::string, FieldSchema>* fields, const std::string& where,
                 std::string* error) {
  if (j.is_null()) return true;
  if (!j.is_object()) {
    *error = where + " must be an object of fields";
    return false;
  }
  for (const auto& [name, f] : j.items()) {
    FieldSchema fs;
    if (f.is_string()) {
      fs.type = f.get<std::string>();  // shorthand: "string"
    } else if (f.is_object() && f.contains("type") && f["type"].is_string()) {
      fs.type = f["type"].get<std::string>();
      auto flag = [&](const char* key) { return f.contains(key) && f[key].is_boolean() && f[key].get<bool>(); };
      fs.optional = flag("optional");
      fs.computed = flag("computed");
      fs.sensitive = flag("sensitive");
      if (f.contains("doc") && f["doc"].is_string()) fs.doc = f["doc"].get<std::string>();
    } else {
      *error = "field `" + name + "` of " + where + " needs a string `type`";
      return false;
    }
    (*fields)[name] = fs;
  }
  return true;
}

json FieldsToJson(const std::map<std::string, FieldSchema>& fields) {
  json out = json::object();
  for (const auto& [name, f] : fields) {
    json j = {{"type", f.type}};
    if (f.optional) j["optional"] = true;
    if (f.computed) j["computed"] = true;
    if (f.sensitive) j["sensitive"] = true;
    if (!f.doc.empty()) j["doc"] = f.doc;
    out[name] = j;
  }
  return out;
}

json PathToJson(const Path& p) {
  json a = json::array();
  for (const auto& s : p) a.push_back(s);
  return a;
}

bool ParsePath(const json& j, Path* out) {
  if (!j.is_array()) return false;
  for (const auto& e : j) {
    if (e.is_string()) out->push_back(e.get<std::string>());
    else if (e.is_number_integer()) out->push_back(std::to_string(e.get<int64_t>()));
    else return false;
  }
  return true;
}

class PluginProvider : public Provider {
 public:
  PluginProvider(PluginOptions options, std::unique_ptr<RpcClient> client, ProviderSchema schema)
      : options_(std::move(options)), client_(std::move(client)), schema_(std::move(schema)) {}
  ~PluginProvider() override { Shutdown(); }

  const ProviderSchema& Schema() const override { return schema_; }
  std::string Origin() const override { return options_.path; }

  ConfigureResponse Configure(const ConfigureRequest& req) override {
    ConfigureResponse resp;
    json result;
    if (Call("configure", {{"config", req.config}}, "configure", &result, &resp.diagnostics))
      Diags(result, &resp.diagnostics);
    return resp;
  }

  ValidateResponse Validate(const ValidateRequest& req) override {
    ValidateResponse resp;
    json result;
    json params = {{"kind", req.kind}, {"address", req.address}, {"config", req.config}};
    if (Call("validate", params, "validate of " + req.address, &result, &resp.diagnostics))
      Diags(result, &resp.diagnostics);
    return resp;
  }

  PlanResponse Plan(const PlanRequest& req) override {
    PlanResponse resp;
    json result;
    json params = {{"kind", req.kind}, {"address", req.address}, {"prior", req.prior},
                   {"config", req.config}};
    if (!Call("plan", params, "plan of " + req.address, &result, &resp.diagnostics)) return resp;
    PlanResult(result, req.address, &resp);
    return resp;
  }

  bool SupportsValidateBatch() const override { return HasCapability("validate_batch"); }
  bool SupportsPlanBatch() const override { return HasCapability("plan_batch"); }

  // `validate_batch` {validates: [{kind, address, config}]} -> {results:
  // [{diagnostics}]}, only for plugins that announce the capability.
  ValidateBatchResponse ValidateBatch(const ValidateBatchRequest& req) override {
    if (!SupportsValidateBatch()) return Provider::ValidateBatch(req);
    ValidateBatchResponse resp;
    json validates = json::array();
    for (const auto& v : req.validates)
      validates.push_back({{"kind", v.kind}, {"address", v.address}, {"config", v.config}});
    json result;
    std::string op = "validate_batch of " + std::to_string(req.validates.size()) + " objects";
    const json* results = BatchCall("validate_batch", {{"validates", std::move(validates)}}, op,
                                    req.validates.size(), &result, &resp.diagnostics);
    if (!results) return resp;
    for (const auto& r : *results) {
      ValidateResponse one;
      if (r.is_object()) Diags(r, &one.diagnostics);
      resp.results.push_back(std::move(one));
    }
    return resp;
  }

  // `plan_batch` {plans: [{kind, address, prior, config}]} -> {results:
  // [{planned, requires_replace, diagnostics}]}, each as `plan` answers.
  PlanBatchResponse PlanBatch(const PlanBatchRequest& req) override {
    if (!SupportsPlanBatch()) return Provider::PlanBatch(req);
    PlanBatchResponse resp;
    json plans = json::array();
    for (const auto& p : req.plans)
      plans.push_back({{"kind", p.kind}, {"address", p.address}, {"prior", p.prior}, {"config", p.config}});
    json result;
    std::string op = "plan_batch of " + std::to_string(req.plans.size()) + " objects";
    const json* results =
        BatchCall("plan_batch", {{"plans", std::move(plans)}}, op, req.plans.size(), &result, &resp.diagnostics);
    if (!results) return resp;
    for (size_t i = 0; i < results->size(); ++i) {
      PlanResponse one;
      const json& r = (*results)[i];
      if (r.is_object()) PlanResult(r, req.plans[i].address, &one);
      resp.results.push_back(std::move(one));
    }
    return resp;
  }

  ApplyResponse Apply(const ApplyRequest& req) override {
    ApplyResponse resp;
    json result;
    json params = {{"kind", req.kind},       {"address", req.address}, {"prior", req.prior},
                   {"planned", req.planned}, {"config", req.config}};
    NotificationFn notify = [&](const std::string& method, const json& p) {
      if (method != "progress" || !req.progress) return;
      if (p.is_object() && p.contains("message") && p["message"].is_string())
        req.progress(p["message"].get<std::string>());
    };
    if (!Call("apply", params, "apply of " + req.address, &result, &resp.diagnostics, notify))
      return resp;
    Diags(result, &resp.diagnostics);
    if (result.contains("state")) resp.state = result["state"];
    return resp;
  }

  ReadResponse Read(const ReadRequest& req) override {
    ReadResponse resp;
    json result;
    json params = {{"kind", req.kind}, {"address", req.address}, {"state", req.state}};
    if (!Call("read", params, "read of " + req.address, &result, &resp.diagnostics)) return resp;
    Diags(result, &resp.diagnostics);
    if (result.contains("state")) resp.state = result["state"];
    return resp;
  }

  bool SupportsReadBatch() const override { return HasCapability("read_batch"); }

  // `read_batch` {reads: [{kind, address, state}]} -> {results: [{state,
  // diagnostics}]}, only for plugins that announce the capability.
  ReadBatchResponse ReadBatch(const ReadBatchRequest& req) override {
    if (!SupportsReadBatch()) return Provider::ReadBatch(req);
    ReadBatchResponse resp;
    json reads = json::array();
    for (const auto& r : req.reads)
      reads.push_back({{"kind", r.kind}, {"address", r.address}, {"state", r.state}});
    json result;
    std::string op = "read_batch of " + std::to_string(req.reads.size()) + " objects";
    const json* results =
        BatchCall("read_batch", {{"reads", std::move(reads)}}, op, req.reads.size(), &result, &resp.diagnostics);
    if (!results) return resp;
    for (const auto& r : *results) {
      ReadResponse one;
      if (r.is_object()) {
        Diags(r, &one.diagnostics);
        if (r.contains("state")) one.state = r["state"];
      }
      resp.results.push_back(std::move(one));
    }
    return resp;
  }

  DeleteResponse Delete(const DeleteRequest& req) override {
    DeleteResponse resp;
    json result;
    json params = {{"kind", req.kind}, {"address", req.address}, {"state", req.state}};
    if (Call("delete", params, "delete of " + req.address, &result, &resp.diagnostics))
      Diags(result, &resp.diagnostics);
    return resp;
  }

  ImportResponse Import(const ImportRequest& req) override {
    ImportResponse resp;
    json result;
    json params = {{"kind", req.kind}, {"id", req.id}};
    if (!Call("import", params, "import of " + req.kind + " " + req.id, &result,
              &resp.diagnostics))
      return resp;
    Diags(result, &resp.diagnostics);
    if (result.contains("state")) resp.state = result["state"];
    return resp;
  }

  InventoryResponse Inventory() override {
    InventoryResponse resp;
    json result;
    if (!Call("inventory", json::object(), "inventory", &result, &resp.diagnostics)) return resp;
    Diags(result, &resp.diagnostics);
    if (result.contains("simulated") && result["simulated"].is_boolean())
      resp.simulated = result["simulated"].get<bool>();
    if (!result.contains("nodes") || !result["nodes"].is_array()) return resp;
    for (const auto& n : result["nodes"]) {
      if (!n.is_object()) continue;
      InventoryNode node;
      node.name = n.value("name", "");
      if (n.contains("gpus") && n["gpus"].is_array()) {
        for (const auto& g : n["gpus"]) {
          if (!g.is_object()) continue;
          InventoryGpu gpu;
          gpu.model = g.value("model", "");
          gpu.memory = g.value("memory", int64_t{0});
          gpu.count = g.value("count", 0);
          gpu.free = g.value("free", 0);
          node.gpus.push_back(gpu);
        }
      }
      resp.nodes.push_back(node);
    }
    return resp;
  }

  void Shutdown() override {
    if (client_) client_->Shutdown();
  }

  void Cancel() override {
    if (client_) client_->Cancel();
  }

 private:
  // One call; false (with an error in *diags) when there is no usable result.
  bool Call(const std::string& method, const json& params, const std::string& op, json* result,
            ProviderDiagnostics* diags, const NotificationFn& notify = nullptr) {
    RpcResult r = client_->Call(method, params, op, options_.call_timeout_ms, notify);
    if (!r.ok) {
      diags->push_back(Error(r.error, r.stderr_tail.empty() ? "" : "last stderr lines:\n" + r.stderr_tail));
      return false;
    }
    if (!r.result.is_object()) {
      diags->push_back(Error("provider `" + options_.type + "` answered " + op +
                             " with a result that is not an object"));
      return false;
    }
    *result = r.result;
    return true;
  }

  bool HasCapability(const std::string& name) const {
    for (const auto& c : schema_.capabilities)
      if (c == name) return true;
    return false;
  }

  // A batch call: its `results` (one per request, else an error in
  // *diags and null); the batch's own diagnostics go to *diags.
  const json* BatchCall(const std::string& method, const json& params, const std::string& op, size_t count,
                        json* result, ProviderDiagnostics* diags) {
    if (!Call(method, params, op, result, diags)) return nullptr;
    Diags(*result, diags);
    const json* results = result->contains("results") ? &(*result)["results"] : nullptr;
    if (!results || !results->is_array() || results->size() != count) {
      diags->push_back(Error("provider `" + options_.type + "` answered " + op + " without one result per " +
                             (method == "read_batch" ? "read" : method == "plan_batch" ? "plan" : "validate")));
      return nullptr;
    }
    return results;
  }

  // A `plan` answer (or one result of `plan_batch`) about `address` into *resp.
  void PlanResult(const json& result, const std::string& address, PlanResponse* resp) {
    Diags(result, &resp->diagnostics);
    if (result.contains("planned")) resp->planned = result["planned"];
    if (result.contains("requires_replace") && !result["requires_replace"].is_null()) {
      const json& rr = result["requires_replace"];
      bool ok = rr.is_array();
      if (ok) {
        for (const auto& p : rr) {
          Path path;
          // A bare string is a top-level attribute name.
          if (p.is_string()) path.push_back(p.get<std::string>());
          else if (!ParsePath(p, &path)) ok = false;
          if (ok) resp->requires_replace.push_back(path);
        }
      }
      if (!ok) {
        resp->diagnostics.push_back(Error("provider `" + options_.type + "` answered plan of " + address +
                                          " with a malformed requires_replace (a list of paths)"));
      }
    }
  }

  void Diags(const json& result, ProviderDiagnostics* diags) {
    if (!result.contains("diagnostics")) return;
    for (auto& d : ParseDiagnostics(result["diagnostics"], options_.type)) diags->push_back(d);
  }

  PluginOptions options_;
  std::unique_ptr<RpcClient> client_;
  ProviderSchema schema_;
};

}  // namespace

bool ParseSchema(const json& result, ProviderSchema* schema, std::string* error) {
  if (!result.is_object()) {
    *error = "the initialize result is not an object";
    return false;
  }
  if (!result.contains("name") || !result["name"].is_string()) {
    *error = "the initialize result has no string `name`";
    return false;
  }
  schema->name = result["name"].get<std::string>();
  if (result.contains("version") && result["version"].is_string())
    schema->version = result["version"].get<std::string>();
  if (!result.contains("protocol_version") || !result["protocol_version"].is_number_integer()) {
    *error = "the initialize result has no integer `protocol_version`";
    return false;
  }
  schema->protocol_version = result["protocol_version"].get<int>();
  if (result.contains("config")) {
    const json& c = result["config"];
    // Both {fields: {...}} (as in the protocol table) and a bare field map.
    const json& fields = c.is_object() && c.contains("fields") ? c["fields"] : c;
    if (!ParseFields(fields, &schema->config, "config", error)) return false;
  }
  if (result.contains("kinds") && !result["kinds"].is_null()) {
    if (!result["kinds"].is_object()) {
      *error = "`kinds` must be an object";
      return false;
    }
    for (const auto& [kind, k] : result["kinds"].items()) {
      KindSchema ks;
      const json& fields = k.is_object() && k.contains("fields") ? k["fields"] : k;
      if (!ParseFields(fields, &ks.fields, "kind `" + kind + "`", error)) return false;
      schema->kinds[kind] = ks;
    }
  }
  if (result.contains("capabilities") && result["capabilities"].is_array()) {
    for (const auto& c : result["capabilities"])
      if (c.is_string()) schema->capabilities.push_back(c.get<std::string>());
  }
  return true;
}

json SchemaToJson(const ProviderSchema& schema) {
  json kinds = json::object();
  for (const auto& [name, k] : schema.kinds) kinds[name] = {{"fields", FieldsToJson(k.fields)}};
  return {{"name", schema.name},
          {"version", schema.version},
          {"protocol_version", schema.protocol_version},
          {"config", {{"fields", FieldsToJson(schema.config)}}},
          {"kinds", kinds},
          {"capabilities", schema.capabilities}};
}

ProviderDiagnostics ParseDiagnostics(const json& list, const std::string& provider) {
  ProviderDiagnostics out;
  if (list.is_null()) return out;
  if (!list.is_array()) {
    out.push_back(Error("provider `" + provider + "` sent `diagnostics` that is not a list"));
    return out;
  }
  for (const auto& d : list) {
    ProviderDiagnostic pd;
    if (!d.is_object()) {
      pd.summary = "provider `" + provider + "` sent a malformed diagnostic";
      out.push_back(pd);
      continue;
    }
    std::string sev = d.value("severity", "error");
    pd.severity = sev == "warning" ? Severity::kWarning : Severity::kError;
    pd.summary = d.contains("summary") && d["summary"].is_string() ? d["summary"].get<std::string>()
                                                                   : "(no summary)";
    if (d.contains("detail") && d["detail"].is_string()) pd.detail = d["detail"].get<std::string>();
    if (d.contains("attribute")) ParsePath(d["attribute"], &pd.attribute);
    out.push_back(pd);
  }
  return out;
}

json DiagnosticsToJson(const ProviderDiagnostics& diags) {
  json out = json::array();
  for (const auto& d : diags) {
    out.push_back({{"severity", d.severity == Severity::kWarning ? "warning" : "error"},
                   {"summary", d.summary},
                   {"detail", d.detail},
                   {"attribute", PathToJson(d.attribute)}});
  }
  return out;
}

std::unique_ptr<Provider> StartPlugin(const PluginOptions& options, ProviderDiagnostics* diags) {
  RpcOptions ro;
  ro.name = options.type;
  ro.path = options.path;
  ro.shutdown_timeout_ms = options.shutdown_timeout_ms;
  ro.cancel_grace_ms = options.cancel_grace_ms;
  ro.forward_stderr = options.forward_stderr || std::getenv("KILN_LOG") != nullptr;
  ro.log_path = options.log_path;
  std::string error;
  auto client = RpcClient::Start(ro, &error);
  if (!client) {
    diags->push_back(Error(error));
    return nullptr;
  }
  json params = {{"protocol_version", kProtocolVersion}, {"kiln_version", KILN_VERSION}};
  RpcResult r = client->Call("initialize", params, "initialize", options.initialize_timeout_ms);
  if (!r.ok) {
    diags->push_back(Error(r.error, r.stderr_tail.empty() ? "" : "last stderr lines:\n" + r.stderr_tail));
    return nullptr;
  }
  ProviderSchema schema;
  if (!ParseSchema(r.result, &schema, &error)) {
    diags->push_back(Error("provider `" + options.type + "` (" + options.path +
                           ") answered initialize wrongly: " + error));
    client->Shutdown();
    return nullptr;
  }
  if (schema.protocol_version != kProtocolVersion) {
    diags->push_back(Error("provider `" + options.type + "` (" + options.path +
                               ") speaks protocol version " +
                               std::to_string(schema.protocol_version) +
                               "; this kiln speaks version " + std::to_string(kProtocolVersion),
                           "upgrade kiln or use a plugin built for protocol version " +
                               std::to_string(kProtocolVersion)));
    client->Shutdown();
    return nullptr;
  }
  if (schema.name != options.type) {
    diags->push_back(Error("provider executable " + options.path + " calls itself `" +
                           schema.name + "`, but it was found as the provider `" + options.type +
                           "`"));
    client->Shutdown();
    return nullptr;
  }
  return std::make_unique<PluginProvider>(options, std::move(client), std::move(schema));
}

}  // namespace kiln::rpc
