// The local provider: configuration, validation, the per-kind dispatch and
// the helpers its kinds share. Each kind lives in a unit of its own
// (cluster.cpp, datastore.cpp, job.cpp, endpoint.cpp; fit.cpp checks a
// whole plan's GPUs) over the lease and queue layer (leases.h, jobs.h).
#include "providers/local/local_provider.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "providers/local/jobs.h"
#include "providers/local/provider_impl.h"

namespace kiln {
namespace local {

namespace {
// The cancel generation an Apply started under (see LocalProvider::Cancel).
thread_local uint64_t t_apply_gen = 0;
}  // namespace

LocalProvider::LocalProvider(std::shared_ptr<System> sys, const GpuCatalog* catalog)
    : sys_(std::move(sys)), catalog_(catalog ? catalog : &GpuCatalog::Default()) {
  schema_.name = "local";
  schema_.version = KILN_VERSION;
  schema_.protocol_version = 1;
  schema_.config["root"] = {"string?", true, false, false,
                            "Working directory for everything this provider makes (default .kiln/local)."};
  schema_.config["simulate_gpus"] = {"string?", true, false, false,
                                     "Declare GPUs on a machine without them, e.g. \"H100:4\"."};
  // Core kinds: the fields below are the local provider's additions to the
  // core schema in stdlib/kinds.kiln.
  schema_.config["scale_down_after"] = {
      "duration?", true, false, false,
      "How long an autoscaled endpoint's load must stay below its target before a replica is removed (default 60s)."};
  schema_.kinds["cluster"].fields["gpu_indices"] = {"list<int>", false, true, false,
                                                    "Local GPU indices reserved for the cluster."};
  schema_.kinds["cluster"].fields["simulated"] = {"bool", false, true, false,
                                                  "Whether the GPUs come from simulate_gpus."};
  schema_.kinds["datastore"] = {};
  schema_.kinds["training_job"].fields["log"] = {"string", false, true, false,
                                                 "The job's stdout and stderr."};
  schema_.kinds["endpoint"].fields["log_dir"] = {"string", false, true, false,
                                                 "Directory of the replicas' logs."};
  schema_.kinds["endpoint"].fields["traffic"] = {
      "{ requests: int, errors: int, error_rate: float, p50_ms: float, p95_ms: float, replicas: int, "
      "canary_requests?: int, canary_error_rate?: float, canary_p50_ms?: float, canary_p95_ms?: float }",
      false, true, false,
      "What the endpoint's proxy measured: requests, errors, latency percentiles (stable replicas), replicas "
      "ready now, and the canary's figures."};
  schema_.capabilities = {"inventory"};
}

bool LocalProvider::Cancelled() const { return cancel_gen_.load() != t_apply_gen; }

ConfigureResponse LocalProvider::Configure(const ConfigureRequest& req) {
  ConfigureResponse resp;
  std::string root = Str(req.config, "root", ".kiln/local");
  std::error_code ec;
  root_ = fs::absolute(root, ec);
  for (const char* sub : {"clusters", "datastores", "jobs", "endpoints", "gpus", "queue"}) {
    fs::create_directories(root_ / sub, ec);
    if (ec) {
      resp.diagnostics.push_back(Err("cannot create " + (root_ / sub).string() + ": " + ec.message(), {"root"}));
      return resp;
    }
  }
  gpus_.clear();
  simulated_ = false;
  scale_down_after_ms_ = req.config.contains("scale_down_after") && req.config["scale_down_after"].is_number()
                             ? req.config["scale_down_after"].get<int64_t>()
                             : 60000;
  std::string sim = Str(req.config, "simulate_gpus");
  if (!sim.empty()) {
    std::string error;
    if (!ParseSimulatedGpus(sim, *catalog_, &gpus_, &error)) {
      resp.diagnostics.push_back(Err(error, {"simulate_gpus"}));
      return resp;
    }
    simulated_ = true;
  } else {
    std::string out;
    int code = -1;
    bool ran = sys_->RunCapture({"nvidia-smi", "--query-gpu=index,name,uuid,memory.total",
                                 "--format=csv,noheader,nounits"},
                                15000, &out, &code);
    if (ran && code == 0) {
      std::vector<std::string> warnings;
      gpus_ = ParseNvidiaSmi(out, *catalog_, &warnings);
      for (const auto& w : warnings) resp.diagnostics.push_back(Warn(w));
    } else if (ran) {
      // Installed but failing (no driver loaded, a GPU fallen off the bus).
      resp.diagnostics.push_back(Warn("nvidia-smi failed with exit status " + std::to_string(code) +
                                          "; the local provider sees no GPUs",
                                      {}, "set `simulate_gpus` to plan without GPUs, or fix the driver"));
    }
  }
  std::vector<InventoryGpu> inv;
  for (const auto& g : gpus_) inv.push_back({g.index, g.model, g.memory});
  if (!WriteInventory(root_, inv, simulated_))
    resp.diagnostics.push_back(Err("cannot write " + (root_ / "inventory.json").string(), {"root"}));
  return resp;
}

namespace {
// Attributes the local provider cannot honour: a warning naming each one
// that is set (defaults and nulls are quiet).
void UnsupportedAttributes(const std::string& kind, const json& c, ProviderDiagnostics* out) {
  auto set = [&](const char* k) { return c.contains(k) && !c[k].is_null() && !IsUnknown(c[k]); };
  auto warn = [&](const char* k, const std::string& why) {
    out->push_back(Warn("`" + std::string(k) + "` is not supported by the local provider and is ignored", {k}, why));
  };
  if (set("spot") && c["spot"] == true) warn("spot", "this machine's GPUs are not preemptible instances");
  if (set("region")) warn("region", "everything runs on this machine");
  if (set("partition")) warn("partition", "there is no scheduler partition on this machine");
  if (set("cpus")) warn("cpus", "processes are not limited to a number of CPUs");
  if (set("memory")) warn("memory", "processes are not limited in memory");
  if (kind == "endpoint" && set("autoscale") && c["autoscale"].is_object()) {
    // The proxy measures requests, not GPUs, CPUs or memory.
    std::string metric = Str(c["autoscale"], "metric");
    if (metric != "rps" && metric != "concurrency" && !metric.empty())
      out->push_back(Warn("autoscale metric `" + metric + "` is not supported by the local provider; its replicas "
                          "stay at `replicas.min`",
                          {"autoscale", "metric"}, "use \"rps\" or \"concurrency\", which its proxy measures"));
    if (c["autoscale"].contains("scale_to_zero_after") && !c["autoscale"]["scale_to_zero_after"].is_null())
      out->push_back(Warn("`autoscale.scale_to_zero_after` is not supported by the local provider and is ignored",
                          {"autoscale", "scale_to_zero_after"},
                          "with `replicas.min = 0` the proxy starts a replica for the first request anyway"));
  }
}
}  // namespace

ValidateResponse LocalProvider::Validate(const ValidateRequest& req) {
  ValidateResponse resp;
  const json& c = req.config;
  if (req.kind == "cluster") {
    int64_t min = 1, max = 1;
    if (c.contains("nodes") && !IsUnknown(c["nodes"]) && ParseRange(c["nodes"], 1, &min, &max) && max > min)
      resp.diagnostics.push_back(Warn("the local provider does not autoscale nodes: the cluster gets " +
                                          std::to_string(min) + " node(s) of this machine (the range's minimum)",
                                      {"nodes"}));
    if (min < 1) resp.diagnostics.push_back(Err("a local cluster needs at least 1 node", {"nodes"}));
    UnsupportedAttributes(req.kind, c, &resp.diagnostics);
  } else if (req.kind == "training_job" || req.kind == "endpoint") {
    if (c.contains("image") && !c["image"].is_null())
      resp.diagnostics.push_back(Err(
          "`image` needs a container runtime, and the local provider runs commands directly",
          {"image"}, "remove `image` and give `command`, or use a provider that runs containers"));
    if (!c.contains("command") || c["command"].is_null())
      resp.diagnostics.push_back(Err("the local provider needs a `command` to run", {"command"}));
    if (req.kind == "training_job" && c.contains("nodes") && c["nodes"].is_number_integer() &&
        c["nodes"].get<int64_t>() < 1)
      resp.diagnostics.push_back(Err("`nodes` must be at least 1", {"nodes"}));
    if (req.kind == "endpoint" && c.contains("port") && c["port"].is_number()) {
      // The endpoint's proxy listens on it (0: a free port).
      int64_t port = c["port"].get<int64_t>();
      if (port < 0 || port > 65535)
        resp.diagnostics.push_back(Err("`port` " + std::to_string(port) + " is out of range",
                                       {"port"}, "use a port in 1..65535, or 0 for a free port"));
    }
    UnsupportedAttributes(req.kind, c, &resp.diagnostics);
  } else if (req.kind != "datastore") {
    resp.diagnostics.push_back(Err("the local provider has no kind `" + req.kind + "`"));
  }
  return resp;
}

PlanResponse LocalProvider::Plan(const PlanRequest& req) {
  PlanResponse resp;
  const json& prior = req.prior;
  json planned = req.config.is_object() ? req.config : json::object();
  std::vector<std::string> replace_fields, computed;
  if (req.kind == "cluster") {
    replace_fields = {"gpu", "nodes"};
    computed = {"id", "status", "gpu_indices", "simulated"};
  } else if (req.kind == "datastore") {
    replace_fields = {"path", "type"};
    computed = {"id", "uri"};
  } else if (req.kind == "training_job") {
    // A job cannot change while it runs: everything but `wait` replaces it.
    computed = {"id", "status", "checkpoint", "exit_code", "log"};
    for (const auto& [k, v] : planned.items())
      if (k != "wait" && std::find(computed.begin(), computed.end(), k) == computed.end())
        replace_fields.push_back(k);
  } else if (req.kind == "endpoint") {
    replace_fields = {"cluster", "gpu", "image", "setup", "upload"};
    computed = {"id", "url", "urls", "status", "log_dir", "traffic"};
  } else {
    resp.diagnostics.push_back(Err("the local provider has no kind `" + req.kind + "`"));
    return resp;
  }
  bool create = prior.is_null();
  if (!create) {
    for (const auto& f : replace_fields) {
      json a = prior.contains(f) ? prior[f] : json();
      json b = planned.contains(f) ? planned[f] : json();
      if (!SameValue(a, b)) resp.requires_replace.push_back({f});
    }
  }
  bool fresh = create || !resp.requires_replace.empty();
  for (const auto& f : computed) planned[f] = fresh ? Unknown() : (prior.contains(f) ? prior[f] : json());
  resp.planned = planned;
  if (req.kind == "cluster") PlanCluster(req, fresh, &resp);
  else if (req.kind == "datastore" && fresh) {
    json path = planned.value("path", json());
    if (!IsUnknown(path)) {
      std::string p = DatastoreDir(req.address, path);
      resp.planned["id"] = p;
      resp.planned["uri"] = "file://" + p;
    }
  } else if (req.kind == "training_job") PlanJob(req, &resp);
  else if (req.kind == "endpoint") PlanEndpoint(req, fresh, &resp);
  return resp;
}

ApplyResponse LocalProvider::Apply(const ApplyRequest& req) {
  t_apply_gen = cancel_gen_.load();
  ApplyResponse resp;
  if (ContainsUnknown(req.config)) {
    resp.diagnostics.push_back(Err("the configuration of " + req.address +
                                   " still has unknown values at apply time"));
    return resp;
  }
  if (req.kind == "cluster") return ApplyCluster(req);
  if (req.kind == "datastore") return ApplyDatastore(req);
  if (req.kind == "training_job") return ApplyJob(req);
  if (req.kind == "endpoint") return ApplyEndpoint(req);
  resp.diagnostics.push_back(Err("the local provider has no kind `" + req.kind + "`"));
  return resp;
}

ReadResponse LocalProvider::Read(const ReadRequest& req) {
  if (req.kind == "cluster") return ReadCluster(req);
  if (req.kind == "datastore") return ReadDatastore(req);
  if (req.kind == "training_job") return ReadJob(req);
  if (req.kind == "endpoint") return ReadEndpoint(req);
  ReadResponse resp;
  resp.diagnostics.push_back(Err("the local provider has no kind `" + req.kind + "`"));
  return resp;
}

DeleteResponse LocalProvider::Delete(const DeleteRequest& req) {
  DeleteResponse resp;
  if (req.kind == "cluster") DeleteCluster(req, &resp);
  else if (req.kind == "datastore") DeleteDatastore(req, &resp);
  else if (req.kind == "training_job") DeleteJob(req, &resp);
  else if (req.kind == "endpoint") DeleteEndpoint(req, &resp);
  return resp;
}

ImportResponse LocalProvider::Import(const ImportRequest& req) {
  ImportResponse resp;
  std::error_code ec;
  if (req.kind == "training_job" && fs::is_directory(JobDir(req.id), ec)) {
    json state = ReadJson(JobDir(req.id) / "state.json");
    RefreshJob(JobDir(req.id), &state);
    resp.state = state;
  } else if (req.kind == "endpoint" && fs::is_directory(root_ / "endpoints" / req.id, ec)) {
    resp.state = ReadJson(root_ / "endpoints" / req.id / "state.json");
  } else if (req.kind == "datastore" && fs::is_directory(req.id, ec)) {
    std::string p = fs::absolute(req.id).lexically_normal().string();
    resp.state = {{"id", p}, {"uri", "file://" + p}, {"path", p}, {"type", "filesystem"},
                  {"versioned", false}, {"force_destroy", false}};
  } else {
    resp.diagnostics.push_back(Err("no local " + req.kind + " with id `" + req.id + "`"));
  }
  return resp;
}

InventoryResponse LocalProvider::Inventory() {
  InventoryResponse resp;
  resp.simulated = simulated_;
  std::set<int> reserved;
  for (const auto& [a, v] : ClusterReservations(root_)) reserved.insert(v.begin(), v.end());
  InventoryNode node;
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  node.name = host;
  std::map<std::string, kiln::InventoryGpu> by_model;
  for (const auto& g : gpus_) {
    auto& m = by_model[g.model];
    m.model = g.model;
    m.memory = g.memory;
    ++m.count;
    if (!reserved.count(g.index) && !GpuHeld(root_, g.index)) ++m.free;
  }
  for (auto& [model, g] : by_model) node.gpus.push_back(g);
  resp.nodes.push_back(node);
  return resp;
}

// ------------------------------------------------------------ shared helpers

std::string LocalProvider::NewId(const std::string& address) {
  char buf[32];
  snprintf(buf, sizeof buf, "%013lld", static_cast<long long>(sys_->NowMs()));
  std::lock_guard<std::mutex> lock(id_mu_);
  return Slug(address) + "-" + buf + "-" + std::to_string(++id_counter_);
}

fs::path LocalProvider::FindByAddress(const std::string& area, const std::string& address) {
  fs::path best;
  std::string best_name;
  std::error_code ec;
  for (fs::directory_iterator it(root_ / area, ec), end; !ec && it != end; it.increment(ec)) {
    if (Trimmed(ReadText(it->path() / "address")) != address) continue;
    std::string name = it->path().filename().string();
    // Names end in a fixed-width creation time: the largest is the newest.
    if (best.empty() || name > best_name) {
      best = it->path();
      best_name = name;
    }
  }
  return best;
}

void LocalProvider::StopSession(pid_t pid) {
  if (pid <= 0 || !sys_->SessionAlive(pid)) return;
  sys_->KillSession(pid, SIGTERM);
  for (int i = 0; i < 50 && sys_->SessionAlive(pid); ++i) sys_->SleepMs(100);
  sys_->KillSession(pid, SIGKILL);
  for (int i = 0; i < 40 && sys_->SessionAlive(pid); ++i) sys_->SleepMs(50);
}

bool LocalProvider::CommandArgv(const json& command, std::vector<std::string>* argv, std::string* error) {
  if (command.is_string()) {
    *argv = {"/bin/sh", "-c", command.get<std::string>()};
    return true;
  }
  if (command.is_array() && !command.empty()) {
    for (const auto& a : command) {
      if (!a.is_string()) {
        *error = "every element of `command` must be a string";
        return false;
      }
      argv->push_back(a.get<std::string>());
    }
    return true;
  }
  *error = "`command` must be a string or a non-empty list of strings";
  return false;
}

json LocalProvider::ResolveRef(const json& ref, const std::string& area, const std::string& self_address) {
  if (ref.is_object()) {
    std::string id = Str(ref, "id");
    if (area == "clusters" && !id.empty()) return ReadJson(root_ / area / (id + ".json"));
    return json();
  }
  if (!ref.is_string()) return json();
  std::string target = ref.get<std::string>();
  std::string prefix;
  for (const char* kind : {".training_job.", ".endpoint.", ".cluster.", ".datastore."}) {
    size_t at = self_address.rfind(kind);
    if (at != std::string::npos && (prefix.empty() || at + 1 > prefix.size())) prefix = self_address.substr(0, at + 1);
  }
  for (const std::string& candidate : {prefix + target, target}) {
    json r = ReadJson(root_ / area / (Slug(candidate) + ".json"));
    if (r.is_object()) return r;
  }
  return json();
}

std::string LocalProvider::DatastoreDirOf(const json& ref, const std::string& self_address) {
  if (ref.is_object()) {
    std::string p = Str(ref, "path");
    if (!p.empty()) return p;
    std::string uri = Str(ref, "uri");
    if (uri.rfind("file://", 0) == 0) return uri.substr(7);
    return Str(ref, "id");
  }
  json r = ResolveRef(ref, "datastores", self_address);
  return r.is_object() ? Str(r, "path") : "";
}

std::map<std::string, std::string> LocalProvider::BaseEnv(const json& config) {
  std::map<std::string, std::string> env;
  for (const char* key : {"env", "secrets"}) {
    json m = config.value(key, json::object());
    if (!m.is_object()) continue;
    for (const auto& [k, v] : m.items()) env[k] = v.is_string() ? v.get<std::string>() : v.dump();
  }
  return env;
}

std::string LocalProvider::ModelName(const GpuRequest& gpu) const {
  if (gpu.model.empty()) return "";
  std::string m = catalog_->Normalize(gpu.model);
  return m.empty() ? gpu.model : m;
}

bool LocalProvider::Matches(const LocalGpu& g, const GpuRequest& gpu) const {
  std::string model = ModelName(gpu);
  if (!model.empty() && g.model != model) return false;
  return gpu.memory <= 0 || g.memory >= gpu.memory;
}

bool LocalProvider::GpuPool(const json& config, const std::string& address, int processes,
                            std::vector<int>* pool, int* per, std::string* error) {
  GpuRequest gpu;
  if (!ParseGpu(config.value("gpu", json()), &gpu, error)) return false;
  json cluster = config.value("cluster", json());
  bool has_cluster = cluster.is_object() || cluster.is_string();
  *per = gpu.count;
  if (has_cluster) {
    json r = ResolveRef(cluster, "clusters", address);
    if (!r.is_object() && cluster.is_string()) {
      *error = "cannot find the cluster `" + cluster.get<std::string>() + "` (it is not a local cluster)";
      return false;
    }
    json indices = r.is_object() ? r["gpus"] : cluster.value("gpu_indices", json());
    if (indices.is_array())
      for (const auto& i : indices) pool->push_back(i.get<int>());
    // Without a `gpu`, a job takes its cluster's GPUs, shared out between its nodes.
    if (gpu.count == 0 && config.contains("command") && !config.contains("replicas"))
      *per = static_cast<int>(pool->size()) / std::max(processes, 1);
  } else if (gpu.count > 0) {
    std::set<int> reserved;
    for (const auto& [a, v] : ClusterReservations(root_)) reserved.insert(v.begin(), v.end());
    for (const auto& g : gpus_)
      if (!reserved.count(g.index) && Matches(g, gpu)) pool->push_back(g.index);
  }
  size_t need = static_cast<size_t>(*per) * processes;
  if (need > pool->size()) {
    std::string what = (has_cluster ? "its cluster has " : "this machine has ") + std::to_string(pool->size()) +
                       (has_cluster ? "" : " unreserved" + (ModelName(gpu).empty() ? "" : " " + ModelName(gpu)));
    *error = "needs " + std::to_string(need) + " GPUs (" + std::to_string(*per) + " × " +
             std::to_string(processes) + ") but " + what;
    return false;
  }
  return true;
}

}  // namespace local

std::unique_ptr<Provider> NewLocalProvider() { return NewLocalProvider(local::RealSystem()); }

std::unique_ptr<Provider> NewLocalProvider(std::shared_ptr<local::System> system,
                                           const local::GpuCatalog* catalog) {
  return std::make_unique<local::LocalProvider>(std::move(system), catalog);
}

}  // namespace kiln
