#include "providers/kubernetes/kubernetes_provider.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>

#include "providers/kubernetes/render.h"

namespace kiln {

namespace {

using json = nlohmann::json;
using kube::Object;
using kube::Progress;
using kube::Rendered;
using kube::RenderContext;
using kube::ResourceType;
using kube::Result;

const ResourceType kNodes{"v1", "Node", "nodes", false};
const ResourceType kPods{"v1", "Pod", "pods"};
const ResourceType kQuotas{"v1", "ResourceQuota", "resourcequotas"};
const ResourceType kNamespaces{"v1", "Namespace", "namespaces", false};
const ResourceType kClaims{"v1", "PersistentVolumeClaim", "persistentvolumeclaims"};
const ResourceType kDeployments{"apps/v1", "Deployment", "deployments"};
const ResourceType kJobs{"batch/v1", "Job", "jobs"};
const ResourceType kSecrets{"v1", "Secret", "secrets"};
constexpr char kConfigAnnotation[] = "kiln.dev/config";

bool IsUnknown(const json& j) { return j.is_object() && j.contains("$unknown"); }
json Unknown() { return {{"$unknown", true}}; }
bool ContainsUnknown(const json& j) {
  if (IsUnknown(j)) return true;
  if (j.is_structured())
    for (const auto& v : j)
      if (ContainsUnknown(v)) return true;
  return false;
}

std::string Str(const json& obj, const std::string& key, const std::string& def = "") {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return def;
  return obj[key].get<std::string>();
}

bool Bool(const json& obj, const std::string& key, bool def = false) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_boolean()) return def;
  return obj[key].get<bool>();
}

json Field(const json& obj, const std::string& key) {
  return obj.is_object() && obj.contains(key) ? obj[key] : json();
}

ProviderDiagnostic Err(std::string summary, Path attribute = {}, std::string detail = "") {
  return {Severity::kError, std::move(summary), std::move(detail), std::move(attribute)};
}

// The kiln attribute behind a field path of an object kiln renders
// (".spec.replicas" -> replicas), or "" when it has none of its own.
std::string AttributeOfField(const std::string& field) {
  auto has = [&](const char* s) { return field.find(s) != std::string::npos; };
  if (has("inReplicas") || has("axReplicas") || has(".replicas") || field == "spec.replicas") return "replicas";
  if (has(".image") || has("image")) return "image";
  if (has("command")) return "command";
  if (has("containerPort") || has("ports")) return "port";
  if (has("readinessProbe")) return "health_check";
  if (has(".env") || has("env[")) return "env";
  if (has("storage")) return "size";
  if (has("accessModes")) return "type";
  if (has("hard") || has("nvidia.com/gpu")) return "gpu";
  if (has("backoffLimit")) return "retries";
  if (has("activeDeadlineSeconds")) return "max_runtime";
  if (has("resources")) return "gpu";
  return "";
}

const std::vector<std::string>& ComputedFields(const std::string& kind) {
  static const std::map<std::string, std::vector<std::string>> kComputed = {
      {"cluster", {"id", "status", "namespace"}},
      {"datastore", {"id", "uri", "namespace"}},
      {"training_job", {"id", "status", "checkpoint", "exit_code", "namespace"}},
      {"endpoint", {"id", "url", "urls", "status", "namespace"}}};
  static const std::vector<std::string> kNone;
  auto it = kComputed.find(kind);
  return it == kComputed.end() ? kNone : it->second;
}

// The configuration part of a state (computed fields left out).
json ConfigOf(const std::string& kind, const json& state) {
  json c = state.is_object() ? state : json::object();
  for (const auto& f : ComputedFields(kind)) c.erase(f);
  return c;
}

bool SameAttr(const json& a, const json& b, const std::string& key) {
  return Field(a, key) == Field(b, key);
}

std::string GpuSummary(const std::vector<std::pair<std::string, std::pair<std::string, int64_t>>>& nodes) {
  std::string out;
  for (const auto& [name, g] : nodes)
    out += (out.empty() ? "" : ", ") + name + ": " + std::to_string(g.second) + " × " +
           (g.first.empty() ? "GPU" : g.first);
  return out.empty() ? "no node reports nvidia.com/gpu" : out;
}

thread_local uint64_t t_call_gen = 0;

// The objects of a ReadBatch: one list call per collection (API version,
// resource, namespace) with the managed-by label selector, kept for the
// batch. Set on the thread that runs the batch.
struct ListCache {
  std::map<std::string, std::map<std::string, json>> items;  // collection path -> name -> object
  std::map<std::string, Result> failed;                      // collection path -> the failed list
};
thread_local ListCache* t_batch = nullptr;

class KubernetesProvider : public Provider {
 public:
  KubernetesProvider(KubeTransportFactory transport, kube::Clock* clock, const local::GpuCatalog* catalog)
      : transport_factory_(std::move(transport)),
        clock_(clock ? clock : &kube::RealClock()),
        catalog_(catalog) {
    schema_.name = "kubernetes";
    schema_.version = KILN_VERSION;
    schema_.protocol_version = 1;
    auto& c = schema_.config;
    c["server"] = {"string?", true, false, false, "API server URL, e.g. https://10.0.0.1:6443."};
    c["token"] = {"string?", true, false, true, "Bearer token (env(\"KUBE_TOKEN\") is typical)."};
    c["ca_file"] = {"string?", true, false, false, "CA bundle that signed the API server's certificate."};
    c["insecure_skip_tls_verify"] = {"bool?", true, false, false, "Do not verify the server's certificate."};
    c["namespace"] = {"string?", true, false, false,
                      "Namespace of objects without a cluster, and of datastores (default \"default\")."};
    c["kubeconfig"] = {"string?", true, false, false, "A kubeconfig file to take the connection from."};
    c["context"] = {"string?", true, false, false, "The kubeconfig context (default: its current-context)."};
    c["force_conflicts"] = {"bool?", true, false, false,
                            "Take fields over from other field managers on every apply."};
    c["rollout_timeout"] = {"duration?", true, false, false, "How long apply waits for a rollout (default 10m)."};
    c["job_timeout"] = {"duration?", true, false, false,
                        "How long apply waits for a `wait = true` job (default 24h; at most max_runtime + 2m)."};
    for (const char* kind : {"cluster", "datastore", "training_job", "endpoint"})
      schema_.kinds[kind].fields["namespace"] = {"string", false, true, false, "The Kubernetes namespace."};
    schema_.capabilities = {"inventory"};
  }

  const ProviderSchema& Schema() const override { return schema_; }
  std::string Origin() const override { return "built-in"; }
  void Cancel() override { ++cancel_gen_; }

  ConfigureResponse Configure(const ConfigureRequest& req) override {
    ConfigureResponse resp;
    const json& c = req.config;
    kube::Connection conn;
    std::string kubeconfig = Str(c, "kubeconfig");
    if (!kubeconfig.empty()) {
      std::string error;
      if (!kube::LoadKubeconfig(kubeconfig, Str(c, "context"), &conn, &error)) {
        resp.diagnostics.push_back(Err(error, {"kubeconfig"}));
        return resp;
      }
    }
    if (std::string s = Str(c, "server"); !s.empty()) conn.server = s;
    while (!conn.server.empty() && conn.server.back() == '/') conn.server.pop_back();
    if (std::string s = Str(c, "token"); !s.empty()) conn.token = s;
    if (std::string s = Str(c, "ca_file"); !s.empty()) conn.ca_file = s;
    if (Bool(c, "insecure_skip_tls_verify")) conn.insecure = true;
    if (std::string s = Str(c, "namespace"); !s.empty()) conn.namespace_ = s;
    if (conn.server.empty()) {
      resp.diagnostics.push_back(Err("the kubernetes provider needs `server` (with `token`) or `kubeconfig`", {"server"}));
      return resp;
    }
    namespace_ = conn.namespace_.empty() ? "default" : conn.namespace_;
    force_conflicts_ = Bool(c, "force_conflicts");
    if (c.contains("rollout_timeout") && c["rollout_timeout"].is_number())
      rollout_timeout_ms_ = c["rollout_timeout"].get<int64_t>();
    if (c.contains("job_timeout") && c["job_timeout"].is_number()) job_timeout_ms_ = c["job_timeout"].get<int64_t>();
    client_ = std::make_unique<kube::Client>(transport_factory_(conn), conn.server);
    // Discovery: which API versions this server speaks.
    Result apis = client_->Call("GET", "/apis");
    if (!apis.ok()) {
      resp.diagnostics.push_back(Err(apis.error, {apis.status == 0 ? "server" : "token"}));
      client_.reset();
      return resp;
    }
    std::set<std::string> versions;
    for (const auto& g : apis.body.value("groups", json::array()))
      for (const auto& v : g.value("versions", json::array())) versions.insert(v.value("groupVersion", ""));
    for (const char* need : {"apps/v1", "batch/v1"})
      if (!versions.count(need))
        resp.diagnostics.push_back(Err(std::string("the API server at ") + conn.server + " does not serve " + need));
    hpa_version_ = versions.count("autoscaling/v2") ? "autoscaling/v2"
                   : versions.count("autoscaling/v2beta2") ? "autoscaling/v2beta2" : "";
    return resp;
  }

  ValidateResponse Validate(const ValidateRequest& req) override {
    ValidateResponse resp;
    RenderContext ctx;
    ctx.address = req.address;
    ctx.ns = namespace_;
    ctx.hpa_api_version = hpa_version_.empty() ? "autoscaling/v2" : hpa_version_;
    Rendered r = Render(req.kind, req.config, ctx);
    if (!r.error.empty() && !ContainsUnknown(Field(req.config, r.error_attribute)))
      resp.diagnostics.push_back(Err(r.error, {r.error_attribute}));
    if (req.kind == "endpoint" && client_ && hpa_version_.empty() && kube::PlanReplicas(req.config).autoscaled)
      resp.diagnostics.push_back(Err("this API server has no autoscaling/v2 or v2beta2", {"autoscale"}));
    return resp;
  }

  PlanResponse Plan(const PlanRequest& req) override {
    PlanResponse resp;
    if (!Ready(&resp.diagnostics)) return resp;
    const json& prior = req.prior;
    json planned = req.config.is_object() ? req.config : json::object();
    bool create = prior.is_null();
    if (!create) {
      std::vector<std::string> replace;
      if (req.kind == "training_job") {
        // A Job's pod template cannot change: everything but `wait` replaces it.
        for (const auto& [k, v] : planned.items())
          if (k != "wait" && !SameAttr(prior, planned, k)) replace.push_back(k);
      } else if (req.kind == "endpoint") {
        replace = {"cluster"};
      } else if (req.kind == "datastore") {
        replace = {"type"};
      }
      for (const auto& f : replace)
        if (req.kind == "training_job" || !SameAttr(prior, planned, f)) resp.requires_replace.push_back({f});
    }
    bool fresh = create || !resp.requires_replace.empty();
    bool changed = fresh || ConfigOf(req.kind, prior) != ConfigOf(req.kind, planned);
    for (const auto& f : ComputedFields(req.kind)) planned[f] = fresh ? Unknown() : Field(prior, f);
    std::string error;
    RenderContext ctx;
    bool have_ctx = Context(req.kind, req.address, req.config, &ctx, &error);
    if (!have_ctx && !error.empty()) resp.diagnostics.push_back(Err(error, {ErrorAttribute(error)}));
    if (have_ctx) FillComputed(req.kind, ctx, req.config, prior, fresh, &planned);
    if (!fresh && changed && req.kind != "datastore" && req.kind != "cluster") planned["status"] = Unknown();
    if (!fresh && Str(prior, "status").rfind("drifted", 0) == 0) planned["status"] = Unknown();
    if (have_ctx && (changed || Str(prior, "status").rfind("drifted", 0) == 0) && !ContainsUnknown(req.config)) {
      CheckPlacement(req.kind, req.address, req.config, ctx, create, &resp.diagnostics);
      if (!HasErrors(resp.diagnostics)) {
        Rendered r = Render(req.kind, req.config, ctx);
        if (!r.error.empty()) {
          resp.diagnostics.push_back(Err(r.error, {r.error_attribute}));
        } else {
          // The server's defaulting, validation and admission, without
          // changing anything.
          for (const auto& obj : r.objects) {
            Result res = ApplyObject(obj, fresh ? json() : prior, req.config, true, nullptr, &resp.diagnostics);
            if (res.status == 404 && res.error.find("namespaces \"") != std::string::npos) break;  // created by this apply
            if (!res.ok()) break;
          }
        }
      }
    }
    resp.planned = planned;
    return resp;
  }

  ApplyResponse Apply(const ApplyRequest& req) override {
    t_call_gen = cancel_gen_.load();
    ApplyResponse resp;
    if (!Ready(&resp.diagnostics)) return resp;
    if (ContainsUnknown(req.config)) {
      resp.diagnostics.push_back(Err("the configuration of " + req.address + " still has unknown values at apply time"));
      return resp;
    }
    RenderContext ctx;
    std::string error;
    if (!Context(req.kind, req.address, req.config, &ctx, &error)) {
      resp.diagnostics.push_back(Err(error, {ErrorAttribute(error)}));
      return resp;
    }
    Rendered r = Render(req.kind, req.config, ctx);
    if (!r.error.empty()) {
      resp.diagnostics.push_back(Err(r.error, {r.error_attribute}));
      return resp;
    }
    AnnotateConfig(req.kind, req.config, &r);
    bool create = req.prior.is_null();
    if (create) {
      // An object of the same name that is not this resource's is never
      // taken over silently.
      for (const auto& obj : r.objects) {
        Result got = client_->Get(obj.type, obj.ns(), obj.name());
        if (!got.ok()) continue;
        std::string owner = got.body["metadata"].value("annotations", json::object()).value(kube::kAddressAnnotation, "");
        if (owner == req.address || (obj.type.kind == "Namespace" && req.kind != "cluster")) continue;
        resp.diagnostics.push_back(Err(obj.Describe() + " already exists" +
                                       (owner.empty() ? " and was not created by kiln" : " and belongs to " + owner),
                                       {}, "import it, rename this resource, or delete the object"));
        return resp;
      }
    }
    json state = req.planned.is_object() ? req.planned : req.config;
    for (auto& [k, v] : req.config.items()) state[k] = v;
    FillComputed(req.kind, ctx, req.config, json(), true, &state);
    bool any = false;
    for (const auto& obj : r.objects) {
      if (req.progress) req.progress("applying " + obj.Describe());
      Result res = ApplyObject(obj, req.prior, req.config, false, req.progress, &resp.diagnostics);
      if (!res.ok()) {
        if (any || !create) {
          state["status"] = "failed";
          resp.state = state;
        }
        return resp;
      }
      any = true;
    }
    // Objects the previous configuration had and this one does not (a
    // canary or HPA taken away, fewer nodes).
    if (!create) {
      RenderContext old_ctx;
      std::string ignored;
      json old_config = ConfigOf(req.kind, req.prior);
      ProviderDiagnostics old_diags;
      if (Context(req.kind, req.address, old_config, &old_ctx, &ignored) &&
          WithSecretNames(req.kind, old_ctx, &old_config, &old_diags)) {
        Rendered old = Render(req.kind, old_config, old_ctx);
        for (const auto& o : old.objects) {
          bool kept = std::any_of(r.objects.begin(), r.objects.end(), [&](const Object& n) {
            return n.type.kind == o.type.kind && n.ns() == o.ns() && n.name() == o.name();
          });
          if (kept) continue;
          if (req.progress) req.progress("deleting " + o.Describe());
          Result d = client_->Delete(o.type, o.ns(), o.name());
          if (!d.ok()) resp.diagnostics.push_back(Err(d.error));
        }
      }
    }
    if (req.kind == "cluster") state["status"] = "ready";
    if (req.kind == "endpoint") WaitRollout(req, r, &state, &resp.diagnostics);
    if (req.kind == "training_job") {
      RefreshJob(r, &state);
      if (Bool(req.config, "wait")) WaitJob(req, r, &state, &resp.diagnostics);
    }
    resp.state = state;
    return resp;
  }

  ReadResponse Read(const ReadRequest& req) override {
    ReadResponse resp;
    if (!Ready(&resp.diagnostics)) return resp;
    json state = req.state;
    if (state.is_null()) {
      state = Recover(req.kind, req.address, &resp.diagnostics);
      if (state.is_null()) return resp;
    }
    json config = ConfigOf(req.kind, state);
    RenderContext ctx;
    std::string error;
    if (!Context(req.kind, req.address, config, &ctx, &error)) {
      resp.diagnostics.push_back(Err(error));
      return resp;
    }
    if (std::string ns = Str(state, "namespace"); !ns.empty()) ctx.ns = ns;
    if (!WithSecretNames(req.kind, ctx, &config, &resp.diagnostics)) return resp;
    Rendered r = Render(req.kind, config, ctx);
    if (!r.error.empty() || r.objects.empty()) {
      resp.state = state;
      return resp;
    }
    std::map<std::string, json> live;
    for (const auto& obj : r.objects) {
      Result got = Fetch(obj.type, obj.ns(), obj.name());
      if (got.ok()) {
        live[Key(obj)] = got.body;
      } else if (!got.not_found()) {
        resp.diagnostics.push_back(Err(got.error));
        return resp;
      }
    }
    const Object& primary = r.objects[PrimaryIndex(req.kind, r)];
    if (!live.count(Key(primary))) return resp;  // gone
    if (req.kind == "cluster" && live[Key(primary)]["status"].value("phase", "") == "Terminating") return resp;
    // Fields with an attribute of their own come back into it...
    if (req.kind == "endpoint") ReadEndpoint(r, live, &state);
    if (req.kind == "datastore") {
      json size = live[Key(primary)]["spec"]["resources"]["requests"].value("storage", json());
      double bytes = 0;
      if (size.is_string() && kube::ParseQuantity(size.get<std::string>(), &bytes) &&
          static_cast<int64_t>(bytes) != state.value("size", int64_t{0}))
        state["size"] = static_cast<int64_t>(bytes);
    }
    if (req.kind == "training_job") RefreshJob(r, &state, &live);
    // ...and any other difference in what kiln manages is reported in
    // `status`, which makes the next plan apply again.
    json again_config = ConfigOf(req.kind, state);
    if (again_config.contains("secrets")) again_config["secrets"] = config["secrets"];
    Rendered again = Render(req.kind, again_config, ctx);
    std::string drift;
    for (const auto& obj : again.objects) {
      if (obj.type.kind == "Secret") continue;  // sensitive: not compared
      auto it = live.find(Key(obj));
      if (it == live.end()) {
        drift = obj.Describe() + " is missing";
        break;
      }
      json want = obj.body;
      want.erase("status");
      std::string where;
      if (!kube::Covers(it->second, want, &where)) {
        drift = obj.Describe() + " " + where + " was changed outside kiln";
        break;
      }
    }
    if (!drift.empty() && state.contains("status")) state["status"] = "drifted: " + drift;
    resp.state = state;
    return resp;
  }

  // A plan's refresh: every resource's objects come from one list call per
  // collection (label app.kubernetes.io/managed-by=kiln) instead of a GET
  // each; an object missing from the list is looked up by name (its labels
  // may have been edited away).
  bool SupportsReadBatch() const override { return true; }
  ReadBatchResponse ReadBatch(const ReadBatchRequest& req) override {
    ReadBatchResponse resp;
    ListCache cache;
    t_batch = &cache;
    for (const auto& r : req.reads) resp.results.push_back(Read(r));
    t_batch = nullptr;
    return resp;
  }

  DeleteResponse Delete(const DeleteRequest& req) override {
    t_call_gen = cancel_gen_.load();
    DeleteResponse resp;
    if (!Ready(&resp.diagnostics)) return resp;
    json config = ConfigOf(req.kind, req.state);
    RenderContext ctx;
    std::string error;
    if (!Context(req.kind, req.address, config, &ctx, &error)) {
      resp.diagnostics.push_back(Err(error));
      return resp;
    }
    if (std::string ns = Str(req.state, "namespace"); !ns.empty()) ctx.ns = ns;
    if (!WithSecretNames(req.kind, ctx, &config, &resp.diagnostics)) return resp;
    Rendered r = Render(req.kind, config, ctx);
    std::vector<Object> objects = r.objects;
    if (req.kind == "cluster" && !objects.empty()) objects.resize(1);  // the namespace takes the rest along
    bool has_secret = std::any_of(objects.begin(), objects.end(), [](const Object& o) { return o.type.kind == "Secret"; });
    if (!has_secret && (req.kind == "training_job" || req.kind == "endpoint")) {
      // State may hold the secrets redacted: the Secret goes in any case.
      json md = {{"name", kube::DnsName(req.address) + "-secrets"}, {"namespace", ctx.ns}};
      objects.insert(objects.begin(), Object{kSecrets, {{"metadata", md}}});
    }
    if (req.kind == "datastore" && !objects.empty()) {
      Result got = client_->Get(objects[0].type, objects[0].ns(), objects[0].name());
      if (got.ok() && got.body["status"].value("phase", "") == "Bound" && !Bool(req.state, "force_destroy")) {
        resp.diagnostics.push_back(Err("PersistentVolumeClaim " + objects[0].ns() + "/" + objects[0].name() +
                                           " is bound to a volume and may hold data; it is kept",
                                       {"force_destroy"},
                                       "set `force_destroy = true` (and apply) to delete it with its data"));
        return resp;
      }
    }
    for (auto it = objects.rbegin(); it != objects.rend(); ++it) {
      Result d = client_->Delete(it->type, it->ns(), it->name());
      if (!d.ok()) {
        resp.diagnostics.push_back(Err(d.error));
        return resp;
      }
    }
    // Foreground deletion: gone once the dependents are gone.
    Progress p = kube::WaitFor(
        [&]() -> Progress {
          for (const auto& o : objects) {
            Result got = client_->Get(o.type, o.ns(), o.name());
            if (got.ok()) return {Progress::kWaiting, "waiting for " + o.Describe() + " to be deleted"};
            if (!got.not_found()) return {Progress::kFailed, got.error};
          }
          return {Progress::kDone, ""};
        },
        5 * 60 * 1000, *clock_, [this] { return Cancelled(); }, nullptr, 500);
    if (p.state != Progress::kDone) resp.diagnostics.push_back(Err("deleting " + req.address + ": " + p.message));
    return resp;
  }

  ImportResponse Import(const ImportRequest& req) override {
    ImportResponse resp;
    if (!Ready(&resp.diagnostics)) return resp;
    // ID: NAMESPACE/NAME of the primary object (the namespace's name for a cluster).
    std::string ns = req.id, name = req.id;
    if (size_t slash = req.id.find('/'); slash != std::string::npos) {
      ns = req.id.substr(0, slash);
      name = req.id.substr(slash + 1);
    }
    const ResourceType* t = PrimaryType(req.kind);
    Result got = t ? client_->Get(*t, t->namespaced ? ns : "", name) : Result{};
    std::string config_text = got.ok() ? got.body["metadata"].value("annotations", json::object()).value(kConfigAnnotation, "") : "";
    json config = json::parse(config_text, nullptr, false);
    if (!got.ok() || config.is_discarded() || !config.is_object()) {
      resp.diagnostics.push_back(Err(got.ok() ? "object " + req.id + " was not created by kiln (no " + kConfigAnnotation + " annotation)"
                                              : "no " + req.kind + " `" + req.id + "`: " + got.error));
      return resp;
    }
    resp.state = config;
    resp.state["namespace"] = ns;
    return resp;
  }

  InventoryResponse Inventory() override {
    InventoryResponse resp;
    if (!Ready(&resp.diagnostics)) return resp;
    std::vector<NodeGpus> nodes;
    std::string error;
    if (!ListNodeGpus(&nodes, &error)) {
      resp.diagnostics.push_back(Err(error));
      return resp;
    }
    std::map<std::string, int64_t> used;
    Result pods = client_->List(kPods, "", "");
    if (pods.ok())
      for (const auto& p : pods.body.value("items", json::array())) {
        std::string phase = p["status"].value("phase", "");
        if (phase == "Succeeded" || phase == "Failed") continue;
        std::string node = p["spec"].value("nodeName", "");
        for (const auto& c : p["spec"].value("containers", json::array())) {
          double n = 0;
          json lim = c.value("resources", json::object()).value("limits", json::object()).value(kube::kGpuResource, json());
          if (lim.is_string() && kube::ParseQuantity(lim.get<std::string>(), &n)) used[node] += static_cast<int64_t>(n);
        }
      }
    for (const auto& n : nodes) {
      InventoryNode node{n.name, {}};
      if (n.count > 0) {
        InventoryGpu g;
        g.model = n.model;
        g.memory = Catalog().Memory(n.model);
        g.count = static_cast<int>(n.count);
        g.free = static_cast<int>(std::max<int64_t>(0, n.count - used[n.name]));
        node.gpus.push_back(g);
      }
      resp.nodes.push_back(node);
    }
    return resp;
  }

 private:
  struct NodeGpus {
    std::string name, product, model;
    int64_t count = 0;  // allocatable nvidia.com/gpu
  };

  bool Cancelled() const { return cancel_gen_.load() != t_call_gen; }

  // GET of one object, answered from the batch's list calls in a ReadBatch.
  Result Fetch(const ResourceType& t, const std::string& ns, const std::string& name) {
    if (!t_batch) return client_->Get(t, ns, name);
    std::string collection = kube::Client::CollectionPath(t, t.namespaced ? ns : "");
    if (auto f = t_batch->failed.find(collection); f != t_batch->failed.end()) return f->second;
    auto it = t_batch->items.find(collection);
    if (it == t_batch->items.end()) {
      Result list = client_->List(t, t.namespaced ? ns : "", std::string(kube::kManagedByLabel) + "=kiln");
      if (!list.ok()) {
        if (list.not_found()) list.status = 200;  // the namespace's kind of object is not served: nothing
        else {
          t_batch->failed[collection] = list;
          return list;
        }
      }
      auto& by_name = t_batch->items[collection];
      if (list.body.is_object())
        for (const auto& item : list.body.value("items", json::array())) {
          json& o = by_name[item["metadata"].value("name", "")];
          o = item;
          o["apiVersion"] = t.api_version;  // list items leave them out
          o["kind"] = t.kind;
        }
      it = t_batch->items.find(collection);
    }
    auto found = it->second.find(name);
    if (found == it->second.end()) return client_->Get(t, ns, name);
    Result r;
    r.status = 200;
    r.body = found->second;
    return r;
  }

  const local::GpuCatalog& Catalog() const { return catalog_ ? *catalog_ : local::GpuCatalog::Default(); }

  bool Ready(ProviderDiagnostics* diags) {
    if (client_) return true;
    diags->push_back(Err("the kubernetes provider is not configured"));
    return false;
  }

  static std::string Key(const Object& o) { return o.type.kind + "/" + o.ns() + "/" + o.name(); }

  static const ResourceType* PrimaryType(const std::string& kind) {
    if (kind == "cluster") return &kNamespaces;
    if (kind == "datastore") return &kClaims;
    if (kind == "training_job") return &kJobs;
    if (kind == "endpoint") return &kDeployments;
    return nullptr;
  }

  // The object that stands for the resource: gone means the resource is gone.
  static size_t PrimaryIndex(const std::string& kind, const Rendered& r) {
    const ResourceType* t = PrimaryType(kind);
    for (size_t i = 0; i < r.objects.size(); ++i)
      if (t && r.objects[i].type.kind == t->kind) return i;
    return 0;
  }

  static std::string ErrorAttribute(const std::string& error) {
    if (error.find("datastore") != std::string::npos) return "output";
    return "cluster";
  }

  Rendered Render(const std::string& kind, const json& config, const RenderContext& ctx) {
    if (kind == "cluster") return kube::RenderCluster(config, ctx);
    if (kind == "datastore") return kube::RenderDatastore(config, ctx);
    if (kind == "training_job") return kube::RenderTrainingJob(config, ctx);
    if (kind == "endpoint") return kube::RenderEndpoint(config, ctx);
    Rendered r;
    r.error = "the kubernetes provider has no kind `" + kind + "`";
    return r;
  }

  // Where a reference points: a namespace and name from the address (as
  // written in the referring module) or from a reference's attributes.
  std::string RefNamespace(const json& ref, const std::string& self, const std::string& kind) {
    if (ref.is_object() && ref.contains("namespace") && ref["namespace"].is_string())
      return ref["namespace"].get<std::string>();
    if (kind == "datastore") return namespace_;
    if (ref.is_string()) return kube::DnsName(kube::ResolveAddress(self, ref.get<std::string>()));
    return "";
  }
  std::string RefName(const json& ref, const std::string& self) {
    if (ref.is_object() && ref.contains("id") && ref["id"].is_string()) {
      std::string id = ref["id"].get<std::string>();
      return id.substr(id.find('/') + 1);
    }
    if (ref.is_string()) return kube::DnsName(kube::ResolveAddress(self, ref.get<std::string>()));
    return "";
  }

  bool Context(const std::string& kind, const std::string& address, const json& config, RenderContext* ctx,
               std::string* error) {
    ctx->address = address;
    ctx->hpa_api_version = hpa_version_.empty() ? "autoscaling/v2" : hpa_version_;
    if (kind == "cluster") {
      ctx->ns = kube::DnsName(address);
      return true;
    }
    ctx->ns = namespace_;
    if (kind == "datastore") return true;
    json cluster = Field(config, "cluster");
    if (IsUnknown(cluster)) return false;
    if (!cluster.is_null()) ctx->ns = RefNamespace(cluster, address, "cluster");
    auto claim = [&](const json& ref, const std::string& what, std::string* out) {
      if (ref.is_null() || IsUnknown(ref)) return true;
      std::string ns = RefNamespace(ref, address, "datastore");
      if (ns != ctx->ns) {
        *error = what + " is a PersistentVolumeClaim in namespace `" + ns + "`, but " + address + " runs in `" +
                 ctx->ns + "`: a datastore lives in the provider's `namespace`; give the provider the cluster's namespace";
        return false;
      }
      *out = RefName(ref, address);
      return true;
    };
    if (!claim(Field(config, "output"), "the output datastore", &ctx->output_claim)) return false;
    json inputs = Field(config, "inputs");
    if (inputs.is_object())
      for (const auto& [name, ref] : inputs.items()) {
        std::string c;
        if (!claim(ref, "the input datastore `" + name + "`", &c)) return false;
        if (!c.empty()) ctx->input_claims[name] = c;
      }
    kube::GpuSpec gpu;
    if (kube::ParseGpuValue(Field(config, "gpu"), &gpu) && gpu.count > 0 && !gpu.model.empty()) {
      std::vector<NodeGpus> nodes;
      std::string ignored;
      std::string want = Catalog().Normalize(gpu.model);
      if (want.empty()) want = gpu.model;
      std::set<std::string> products;
      if (ListNodeGpus(&nodes, &ignored))
        for (const auto& n : nodes)
          if (n.model == want && !n.product.empty()) products.insert(n.product);
      ctx->gpu_products.assign(products.begin(), products.end());
    }
    return true;
  }

  void FillComputed(const std::string& kind, const RenderContext& ctx, const json& config, const json& prior,
                    bool fresh, json* out) {
    std::string name = kube::DnsName(ctx.address);
    (*out)["namespace"] = ctx.ns;
    if (kind == "cluster") {
      (*out)["id"] = ctx.ns;
    } else if (kind == "datastore") {
      (*out)["id"] = ctx.ns + "/" + name;
      (*out)["uri"] = "pvc://" + ctx.ns + "/" + name;
    } else if (kind == "training_job") {
      (*out)["id"] = ctx.ns + "/" + name;
      (*out)["checkpoint"] = ctx.output_claim.empty() ? "" : "pvc://" + ctx.ns + "/" + ctx.output_claim;
    } else if (kind == "endpoint") {
      json port = Field(config, "port");
      if (IsUnknown(port)) return;
      std::string url = "http://" + name + "." + ctx.ns + ".svc.cluster.local:" +
                        std::to_string(port.is_number() ? port.get<int64_t>() : 8080);
      (*out)["id"] = ctx.ns + "/" + name;
      (*out)["url"] = url;
      (*out)["urls"] = json::array({url});
    }
  }

  // State keeps `secrets` redacted (one "(sensitive)" for the whole map):
  // what kiln renders from state then takes the names from the live Secret
  // (the values are never compared), so a Deployment's or Job's env, which
  // refers to the Secret by name, renders as it was applied.
  bool WithSecretNames(const std::string& kind, const RenderContext& ctx, json* config, ProviderDiagnostics* diags) {
    if (kind != "training_job" && kind != "endpoint") return true;
    json secrets = Field(*config, "secrets");
    if (secrets.is_null() || secrets.is_object()) return true;
    json names = json::object();
    Result got = Fetch(kSecrets, ctx.ns, kube::DnsName(ctx.address) + "-secrets");
    if (!got.ok() && !got.not_found()) {
      diags->push_back(Err(got.error));
      return false;
    }
    json data = got.ok() ? got.body.value("data", json::object()) : json::object();
    for (const auto& [k, v] : data.items()) names[k] = "";
    (*config)["secrets"] = names;
    return true;
  }

  void AnnotateConfig(const std::string& kind, const json& config, Rendered* r) {
    if (r->objects.empty()) return;
    json saved = ConfigOf(kind, config);
    if (saved.contains("secrets") && saved["secrets"].is_object())
      for (auto& [k, v] : saved["secrets"].items()) v = "";  // the Secret object holds them
    r->objects[PrimaryIndex(kind, *r)].body["metadata"]["annotations"][kConfigAnnotation] = saved.dump();
  }

  // Server-side apply of one object (a dry run at plan). A conflict with
  // another field manager is taken back with force only where the plan
  // repairs drift that refresh reported in the attribute behind the field;
  // otherwise it is an error naming the manager and the fields.
  Result ApplyObject(const Object& obj, const json& prior, const json& config, bool dry_run,
                     const ProgressFn& progress, ProviderDiagnostics* diags) {
    Result res = client_->Apply(obj.type, obj.body, force_conflicts_, dry_run);
    if (res.status == 409 && !force_conflicts_) {
      std::vector<kube::Conflict> conflicts = kube::ParseConflicts(res.body);
      bool repair = !prior.is_null() && !conflicts.empty();
      // Refresh reported a change outside kiln in a field without an
      // attribute of its own (status "drifted: ..."): the approved plan sets
      // it back. A conflict means another manager holds a different value
      // in a field kiln sets, which is exactly what that refresh compares.
      bool drift_seen = Str(prior, "status").rfind("drifted: ", 0) == 0;
      std::string fields, managers;
      std::set<std::string> seen;
      for (const auto& c : conflicts) {
        std::string attr = AttributeOfField(c.field);
        if (!drift_seen && (attr.empty() || SameAttr(prior, config, attr))) repair = false;
        fields += (fields.empty() ? "" : ", ") + c.field;
        if (seen.insert(c.manager).second) managers += (managers.empty() ? "\"" : ", \"") + c.manager + "\"";
      }
      if (repair) {
        if (progress) progress("taking back " + fields + " of " + obj.Describe() + " from field manager " + managers);
        res = client_->Apply(obj.type, obj.body, true, dry_run);
      } else {
        Path attr;
        if (!conflicts.empty() && !AttributeOfField(conflicts[0].field).empty())
          attr = {AttributeOfField(conflicts[0].field)};
        diags->push_back(Err(obj.Describe() + ": field manager " + (managers.empty() ? "(unknown)" : managers) +
                                 " owns " + (fields.empty() ? "fields kiln sets" : fields) + " (409 conflict)",
                             attr,
                             "another tool changed fields kiln manages without kiln seeing it as drift; "
                             "set `force_conflicts = true` on the provider to take them over, or remove "
                             "them from this resource"));
        return res;
      }
    }
    if (!res.ok()) {
      Path attr;
      if (res.body.is_object() && res.body.contains("details") && res.body["details"].contains("causes"))
        for (const auto& c : res.body["details"]["causes"]) {
          std::string a = AttributeOfField(c.value("field", ""));
          if (!a.empty()) {
            attr = {a};
            break;
          }
        }
      std::string what = dry_run ? "the API server rejects " : "applying ";
      if (res.status == 404 && res.error.find("namespaces \"") != std::string::npos && dry_run) return res;
      diags->push_back(Err(what + obj.Describe() + ": " + res.error, attr));
    }
    return res;
  }

  bool ListNodeGpus(std::vector<NodeGpus>* out, std::string* error) {
    Result nodes = client_->List(kNodes, "", "");
    if (!nodes.ok()) {
      *error = nodes.error;
      return false;
    }
    for (const auto& n : nodes.body.value("items", json::array())) {
      NodeGpus g;
      g.name = n["metadata"].value("name", "");
      g.product = n["metadata"].value("labels", json::object()).value(kube::kGpuProductLabel, "");
      g.model = Catalog().Normalize(g.product);
      if (g.model.empty()) {
        // Feature discovery writes "NVIDIA-H100-80GB-HBM3" for "NVIDIA H100 80GB HBM3".
        std::string spaced = g.product;
        std::replace(spaced.begin(), spaced.end(), '-', ' ');
        g.model = Catalog().Normalize(spaced);
      }
      if (g.model.empty()) g.model = g.product;
      json alloc = n.value("status", json::object()).value("allocatable", json::object()).value(kube::kGpuResource, json());
      double count = 0;
      if (alloc.is_string() && kube::ParseQuantity(alloc.get<std::string>(), &count)) g.count = static_cast<int64_t>(count);
      out->push_back(g);
    }
    return true;
  }

  // Plan-time placement: the GPUs asked for against the nodes' allocatable
  // nvidia.com/gpu and against the namespace's quota.
  void CheckPlacement(const std::string& kind, const std::string& address, const json& config,
                      const RenderContext& ctx, bool create, ProviderDiagnostics* diags) {
    kube::GpuSpec gpu;
    if (!kube::ParseGpuValue(Field(config, "gpu"), &gpu) || gpu.count <= 0) return;
    std::string want = gpu.model.empty() ? "" : Catalog().Normalize(gpu.model);
    if (want.empty()) want = gpu.model;
    std::vector<NodeGpus> nodes;
    std::string error;
    if (!ListNodeGpus(&nodes, &error)) {
      diags->push_back(Err(error));
      return;
    }
    int64_t pods = 1, nmin = 1, nmax = 1;
    if (kind == "cluster") {
      kube::ParseRangeValue(Field(config, "nodes"), 1, &nmin, &nmax);
      pods = nmin;
    } else if (kind == "training_job") {
      pods = Field(config, "nodes").is_number() ? config["nodes"].get<int64_t>() : 1;
    } else if (kind == "endpoint") {
      kube::ReplicaPlan rp = kube::PlanReplicas(config);
      pods = rp.stable + rp.canary;
    }
    std::vector<std::pair<std::string, std::pair<std::string, int64_t>>> seen;
    int64_t fitting = 0;
    for (const auto& n : nodes) {
      if (n.count > 0) seen.push_back({n.name, {n.model, n.count}});
      bool model_ok = want.empty() || n.model == want;
      bool memory_ok = gpu.memory <= 0 || Catalog().Memory(n.model) >= gpu.memory;
      if (model_ok && memory_ok && n.count >= gpu.count) ++fitting;
    }
    std::string what = std::to_string(gpu.count) + " × " + (want.empty() ? "GPU" : want);
    int64_t need_nodes = kind == "endpoint" ? 1 : pods;
    if (fitting < need_nodes) {
      diags->push_back(Err(address + " needs " +
                               (need_nodes > 1 ? std::to_string(need_nodes) + " nodes with " : "a node with ") + what +
                               " allocatable, but " + (fitting == 0 ? "no node has" : "only " + std::to_string(fitting) + " have") +
                               " that (" + GpuSummary(seen) + ")",
                           {"gpu"}));
      return;
    }
    if (kind == "cluster") return;
    Result quotas = client_->List(kQuotas, ctx.ns, "");
    if (!quotas.ok()) return;  // the namespace comes with this apply: checked there
    std::string key = "requests." + std::string(kube::kGpuResource);
    for (const auto& q : quotas.body.value("items", json::array())) {
      json hard = q["spec"].value("hard", json::object()).value(key, json());
      json used = q.value("status", json::object()).value("used", json::object()).value(key, json());
      double h = 0, u = 0;
      if (!hard.is_string() || !kube::ParseQuantity(hard.get<std::string>(), &h)) continue;
      if (used.is_string()) kube::ParseQuantity(used.get<std::string>(), &u);
      int64_t need = gpu.count * pods;
      int64_t allowed = static_cast<int64_t>(h) - (create ? static_cast<int64_t>(u) : 0);
      if (need > allowed)
        diags->push_back(Err(address + " needs " + std::to_string(need) + " nvidia.com/gpu (" + what +
                                 " × " + std::to_string(pods) + " pod" + (pods == 1 ? "" : "s") +
                                 ") but the ResourceQuota " + ctx.ns + "/" + q["metadata"].value("name", "") +
                                 " allows " + std::to_string(static_cast<int64_t>(h)) + " (" +
                                 std::to_string(static_cast<int64_t>(u)) + " in use)",
                             {"gpu"}));
    }
  }

  // An interrupted create: find the primary object by the address's label
  // and annotation, and take the configuration it records.
  json Recover(const std::string& kind, const std::string& address, ProviderDiagnostics* diags) {
    const ResourceType* t = PrimaryType(kind);
    if (!t) return json();
    Result list = client_->List(*t, "", std::string(kube::kAddressHashLabel) + "=" + kube::AddressHash(address) + "," +
                                            kube::kManagedByLabel + "=kiln");
    if (!list.ok()) {
      diags->push_back(Err(list.error));
      return json();
    }
    for (const auto& item : list.body.value("items", json::array())) {
      json ann = item["metadata"].value("annotations", json::object());
      if (ann.value(kube::kAddressAnnotation, "") != address) continue;
      json config = json::parse(ann.value(kConfigAnnotation, ""), nullptr, false);
      if (config.is_discarded() || !config.is_object()) continue;
      std::string ns = kind == "cluster" ? item["metadata"].value("name", "") : item["metadata"].value("namespace", "");
      if (config.contains("secrets") && config["secrets"].is_object() && !config["secrets"].empty()) {
        Result s = client_->Get(kSecrets, ns, kube::DnsName(address) + "-secrets");
        if (s.ok())
          for (auto& [k, v] : config["secrets"].items())
            v = kube::Unbase64(s.body.value("data", json::object()).value(k, ""));
      }
      config["namespace"] = ns;
      RenderContext ctx;
      std::string ignored;
      if (Context(kind, address, config, &ctx, &ignored)) FillComputed(kind, ctx, config, json(), true, &config);
      for (const auto& f : ComputedFields(kind))
        if (!config.contains(f)) config[f] = nullptr;
      if (config.contains("status")) config["status"] = kind == "training_job" ? "pending" : "ready";
      return config;
    }
    return json();
  }

  void ReadEndpoint(const Rendered& r, std::map<std::string, json>& live, json* state) {
    kube::ReplicaPlan rp = kube::PlanReplicas(*state);
    int64_t stable = -1, canary = 0, hmin = -1, hmax = -1;
    std::string image;
    std::vector<Progress> progress;
    for (const auto& o : r.objects) {
      auto it = live.find(Key(o));
      if (it == live.end()) continue;
      const json& l = it->second;
      if (o.type.kind == "Deployment") {
        int64_t n = l["spec"].value("replicas", int64_t{1});
        bool is_canary = o.name().size() > 7 && o.name().compare(o.name().size() - 7, 7, "-canary") == 0;
        (is_canary ? canary : stable) = n;
        if (!is_canary && l["spec"]["template"]["spec"].contains("containers") &&
            !l["spec"]["template"]["spec"]["containers"].empty())
          image = l["spec"]["template"]["spec"]["containers"][0].value("image", "");
        progress.push_back(kube::DeploymentProgress(l));
      } else if (o.type.kind == "HorizontalPodAutoscaler") {
        hmin = l["spec"].value("minReplicas", int64_t{1});
        hmax = l["spec"].value("maxReplicas", int64_t{1});
      }
    }
    if (!image.empty() && image != Str(*state, "image")) (*state)["image"] = image;
    json replicas = Field(*state, "replicas");
    if (rp.autoscaled && hmin >= 0 && (hmin != rp.stable || hmax != rp.max - rp.canary)) {
      (*state)["replicas"] = {{"min", hmin + canary}, {"max", hmax + canary}};
    } else if (!rp.autoscaled && stable >= 0 && stable + canary != rp.min) {
      int64_t total = stable + canary;
      if (replicas.is_object()) (*state)["replicas"] = {{"min", total}, {"max", std::max(total, rp.max)}};
      else (*state)["replicas"] = total;
    }
    std::string status = "ready";
    for (const auto& p : progress) {
      if (p.state == Progress::kFailed) status = "failed";
      else if (p.state == Progress::kWaiting && status == "ready") status = "progressing";
    }
    if (state->contains("status")) (*state)["status"] = status;
  }

  std::vector<json> LiveJobs(const Rendered& r, std::map<std::string, json>* cache) {
    std::vector<json> jobs;
    for (const auto& o : r.objects) {
      if (o.type.kind != "Job") continue;
      if (cache && cache->count(Key(o))) {
        jobs.push_back((*cache)[Key(o)]);
        continue;
      }
      Result got = client_->Get(o.type, o.ns(), o.name());
      jobs.push_back(got.ok() ? got.body : json());
    }
    return jobs;
  }

  // status and exit_code from the Jobs (all of a multi-node job's).
  void RefreshJob(const Rendered& r, json* state, std::map<std::string, json>* cache = nullptr) {
    std::vector<json> jobs = LiveJobs(r, cache);
    std::string status = "succeeded";
    for (const auto& j : jobs) {
      std::string s = j.is_null() ? "failed" : kube::JobStatus(j);
      if (s == "failed") status = "failed";
      else if (s == "running" && status != "failed") status = "running";
      else if (s == "pending" && status == "succeeded") status = "pending";
    }
    (*state)["status"] = status;
    (*state)["exit_code"] = status == "succeeded" ? json(0) : status == "failed" ? FailedExitCode(r) : json();
  }

  json FailedExitCode(const Rendered& r) {
    for (const auto& o : r.objects) {
      if (o.type.kind != "Job") continue;
      Result pods = client_->List(kPods, o.ns(), "job-name=" + o.name());
      if (!pods.ok()) continue;
      for (const auto& p : pods.body.value("items", json::array()))
        for (const auto& cs : p["status"].value("containerStatuses", json::array()))
          if (cs.contains("state") && cs["state"].contains("terminated")) {
            int code = cs["state"]["terminated"].value("exitCode", 0);
            if (code != 0) return code;
          }
    }
    return json();
  }

  void WaitRollout(const ApplyRequest& req, const Rendered& r, json* state, ProviderDiagnostics* diags) {
    std::string failure;
    for (const auto& o : r.objects) {
      if (o.type.kind != "Deployment") continue;
      Progress p = kube::WaitFor(
          [&]() -> Progress {
            Result got = client_->Get(o.type, o.ns(), o.name());
            if (!got.ok()) return {Progress::kFailed, got.error};
            return kube::DeploymentProgress(got.body);
          },
          rollout_timeout_ms_, *clock_, [this] { return Cancelled(); },
          [&](const std::string& m) {
            if (req.progress) req.progress(o.Describe() + ": " + m);
          });
      if (p.state != Progress::kDone) {
        failure = "the rollout of " + o.Describe() + " did not complete: " + p.message;
        break;
      }
      if (req.progress) req.progress(o.Describe() + " rolled out: " + p.message);
    }
    (*state)["status"] = failure.empty() ? "ready" : "failed";
    if (!failure.empty()) diags->push_back(Err(failure, {}));
  }

  void WaitJob(const ApplyRequest& req, const Rendered& r, json* state, ProviderDiagnostics* diags) {
    int64_t max_runtime = Field(req.config, "max_runtime").is_number() ? req.config["max_runtime"].get<int64_t>() : 0;
    // The Job's activeDeadlineSeconds ends it after max_runtime: the wait
    // gives the controller two minutes more, and never exceeds job_timeout.
    int64_t timeout = job_timeout_ms_;
    if (max_runtime > 0) timeout = std::min(timeout, max_runtime + 120000);
    Progress p = kube::WaitFor(
        [&]() -> Progress {
          std::vector<json> jobs = LiveJobs(r, nullptr);
          Progress all{Progress::kDone, "complete"};
          for (size_t i = 0; i < jobs.size(); ++i) {
            if (jobs[i].is_null()) return {Progress::kFailed, "the Job disappeared"};
            Progress one = kube::JobProgress(jobs[i]);
            if (one.state == Progress::kFailed) return one;
            if (one.state == Progress::kWaiting) all = one;
          }
          return all;
        },
        timeout, *clock_, [this] { return Cancelled(); },
        [&](const std::string& m) {
          if (req.progress) req.progress("job: " + m);
        });
    RefreshJob(r, state);
    bool timed_out = p.message.rfind("timed out", 0) == 0;
    if (p.state != Progress::kDone)
      diags->push_back(Err("training job " + req.address + (timed_out ? " did not finish: " : " failed: ") + p.message +
                           (timed_out ? " (the provider's `job_timeout`, or `max_runtime` + 2m, bounds the wait; "
                                        "the Job keeps running)" : "") +
                           ((*state)["exit_code"].is_number() ? " (exit code " + (*state)["exit_code"].dump() + ")" : "")));
  }

  KubeTransportFactory transport_factory_;
  kube::Clock* clock_;
  const local::GpuCatalog* catalog_;
  ProviderSchema schema_;
  std::unique_ptr<kube::Client> client_;
  std::string namespace_ = "default";
  std::string hpa_version_;
  bool force_conflicts_ = false;
  int64_t rollout_timeout_ms_ = 10 * 60 * 1000;
  int64_t job_timeout_ms_ = 24LL * 3600 * 1000;
  std::atomic<uint64_t> cancel_gen_{0};
};

}  // namespace

std::unique_ptr<Provider> NewKubernetesProvider() {
  return NewKubernetesProvider([](const kube::Connection& c) { return kube::NewCurlTransport(c); }, nullptr);
}

std::unique_ptr<Provider> NewKubernetesProvider(KubeTransportFactory transport, kube::Clock* clock,
                                                const local::GpuCatalog* catalog) {
  return std::make_unique<KubernetesProvider>(std::move(transport), clock, catalog);
}

}  // namespace kiln
