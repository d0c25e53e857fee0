#include "providers/local/local_provider.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

namespace kiln {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// ------------------------------------------------------------ json helpers

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

int64_t Int(const json& obj, const std::string& key, int64_t def) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number()) return def;
  return obj[key].get<int64_t>();
}

ProviderDiagnostic Err(std::string summary, Path attribute = {}, std::string detail = "") {
  return {Severity::kError, std::move(summary), std::move(detail), std::move(attribute)};
}

struct GpuRequest {
  std::string model;  // "" = any
  int64_t memory = 0;
  int count = 0;
};

// A gpu value: null, "H100:4", {model, count} or {memory, count}.
bool ParseGpu(const json& j, GpuRequest* out, std::string* error) {
  if (j.is_null()) return true;
  if (IsUnknown(j)) {
    *error = "the gpu request is not known until apply";
    return false;
  }
  if (j.is_string()) {
    std::string s = j.get<std::string>();
    size_t colon = s.find(':');
    out->model = s.substr(0, colon);
    out->count = 1;
    if (colon != std::string::npos) {
      try {
        out->count = std::stoi(s.substr(colon + 1));
      } catch (...) {
        *error = "`" + s + "` is not MODEL:COUNT";
        return false;
      }
    }
    return true;
  }
  if (!j.is_object()) {
    *error = "a gpu is a string \"MODEL:COUNT\" or a record";
    return false;
  }
  out->model = Str(j, "model");
  out->memory = Int(j, "memory", 0);
  out->count = static_cast<int>(Int(j, "count", 1));
  return true;
}

// A range: {"min", "max"} or an int n (n..n).
bool ParseRange(const json& j, int64_t def, int64_t* min, int64_t* max) {
  if (j.is_null()) {
    *min = *max = def;
    return true;
  }
  if (j.is_number_integer()) {
    *min = *max = j.get<int64_t>();
    return true;
  }
  if (j.is_object() && j.contains("min") && j["min"].is_number_integer()) {
    *min = j["min"].get<int64_t>();
    *max = j.contains("max") && j["max"].is_number_integer() ? j["max"].get<int64_t>() : *min;
    return true;
  }
  return false;
}

// References to other resources arrive as their attribute objects: compare
// them by id, so a change in (say) a cluster's status does not look like a
// different cluster.
json Identity(const json& v) {
  if (v.is_object() && v.contains("id") && !v.contains("$unknown")) return v["id"];
  if (v.is_object()) {
    json out = json::object();
    for (const auto& [k, e] : v.items()) out[k] = Identity(e);
    return out;
  }
  return v;
}

bool SameValue(const json& a, const json& b) {
  if (IsUnknown(a) || IsUnknown(b)) return false;
  return Identity(a) == Identity(b);
}

std::string Slug(const std::string& address) {
  std::string s;
  for (char c : address) s += std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ? c : '_';
  while (s.find("__") != std::string::npos) s.replace(s.find("__"), 2, "_");
  if (s.size() > 48) s.resize(48);
  uint32_t h = 2166136261u;  // FNV-1a keeps distinct addresses distinct after the cut
  for (unsigned char c : address) h = (h ^ c) * 16777619u;
  char buf[9];
  snprintf(buf, sizeof buf, "%08x", h);
  return s + "-" + buf;
}

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return "";
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

bool WriteText(const fs::path& p, const std::string& text) {
  fs::path tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return false;
    out << text;
    if (!out) return false;
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
  return !ec;
}

json ReadJson(const fs::path& p) {
  json j = json::parse(ReadText(p), nullptr, false);
  return j.is_discarded() ? json() : j;
}

std::string LastLines(const fs::path& log, int n) {
  std::string text = ReadText(log);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  size_t start = text.size();
  for (int seen = 0; start > 0; ) {
    size_t nl = text.rfind('\n', start - 1);
    if (nl == std::string::npos) {
      start = 0;
      break;
    }
    start = nl;
    if (++seen == n) {
      ++start;
      break;
    }
  }
  if (start < text.size() && text[start] == '\n') ++start;
  return text.substr(start);
}

std::string Join(const std::vector<int>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + std::to_string(v[i]);
  return out;
}

std::string EnvName(const std::string& name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) ? std::toupper(c) : '_';
  return out;
}

// A datastore reference's directory: its `path`, or its `uri` (file://).
std::string DatastorePath(const json& ds) {
  std::string p = Str(ds, "path");
  if (!p.empty()) return p;
  std::string uri = Str(ds, "uri");
  if (uri.rfind("file://", 0) == 0) return uri.substr(7);
  return Str(ds, "id");
}

// An exclusive lock on a file, across threads and processes (flock).
class FileLock {
 public:
  explicit FileLock(const fs::path& p) {
    fd_ = open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ >= 0) flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    if (fd_ >= 0) close(fd_);
  }

 private:
  int fd_ = -1;
};

const char* kJobWrapper =
    "#!/bin/sh\n"
    "# kiln local training_job wrapper: runs the command, records its exit code\n"
    "# so that later kiln runs can tell how it ended.\n"
    "D=\"$1\"; shift\n"
    "if [ -n \"$KILN_MAX_RUNTIME_S\" ]; then\n"
    "  timeout -k 10 \"$KILN_MAX_RUNTIME_S\" \"$@\"\n"
    "else\n"
    "  \"$@\"\n"
    "fi\n"
    "code=$?\n"
    "echo $code > \"$D/exit_code.tmp\" && mv \"$D/exit_code.tmp\" \"$D/exit_code\"\n";

// ------------------------------------------------------------ the provider

// The cancel generation an Apply started under (see LocalProvider::Cancel).
thread_local uint64_t t_apply_gen = 0;

class LocalProvider : public Provider {
 public:
  LocalProvider(std::shared_ptr<local::System> sys, const local::GpuCatalog* catalog)
      : sys_(std::move(sys)), catalog_(catalog ? catalog : &local::GpuCatalog::Default()) {
    schema_.name = "local";
    schema_.version = KILN_VERSION;
    schema_.protocol_version = 1;
    schema_.config["root"] = {"string?", true, false, false,
                              "Working directory for everything this provider makes (default .kiln/local)."};
    schema_.config["simulate_gpus"] = {"string?", true, false, false,
                                       "Declare GPUs on a machine without them, e.g. \"H100:4\"."};
    // Core kinds: the fields below are the local provider's additions to the
    // core schema in stdlib/kinds.kiln.
    schema_.kinds["cluster"].fields["gpu_indices"] = {"list<int>", false, true, false,
                                                      "Local GPU indices reserved for the cluster."};
    schema_.kinds["cluster"].fields["simulated"] = {"bool", false, true, false,
                                                    "Whether the GPUs come from simulate_gpus."};
    schema_.kinds["datastore"] = {};
    schema_.kinds["training_job"].fields["log"] = {"string", false, true, false,
                                                   "The job's stdout and stderr."};
    schema_.kinds["endpoint"].fields["log_dir"] = {"string", false, true, false,
                                                   "Directory of the replicas' logs."};
    schema_.capabilities = {"inventory"};
  }

  const ProviderSchema& Schema() const override { return schema_; }
  std::string Origin() const override { return "built-in"; }

  ConfigureResponse Configure(const ConfigureRequest& req) override {
    ConfigureResponse resp;
    std::string root = Str(req.config, "root", ".kiln/local");
    std::error_code ec;
    root_ = fs::absolute(root, ec);
    for (const char* sub : {"clusters", "datastores", "jobs", "endpoints"}) {
      fs::create_directories(root_ / sub, ec);
      if (ec) {
        resp.diagnostics.push_back(Err("cannot create " + (root_ / sub).string() + ": " + ec.message(), {"root"}));
        return resp;
      }
    }
    std::string sim = Str(req.config, "simulate_gpus");
    if (!sim.empty()) {
      std::string error;
      if (!local::ParseSimulatedGpus(sim, *catalog_, &gpus_, &error)) {
        resp.diagnostics.push_back(Err(error, {"simulate_gpus"}));
        return resp;
      }
      simulated_ = true;
    } else {
      std::string out;
      int code = -1;
      if (sys_->RunCapture({"nvidia-smi", "--query-gpu=index,name,uuid,memory.total",
                            "--format=csv,noheader,nounits"},
                           15000, &out, &code) &&
          code == 0) {
        std::vector<std::string> warnings;
        gpus_ = local::ParseNvidiaSmi(out, *catalog_, &warnings);
        for (const auto& w : warnings)
          resp.diagnostics.push_back({Severity::kWarning, w, "", {}});
      }
    }
    return resp;
  }

  ValidateResponse Validate(const ValidateRequest& req) override {
    ValidateResponse resp;
    const json& c = req.config;
    if (req.kind == "cluster") {
      int64_t min = 1, max = 1;
      if (c.contains("nodes") && !IsUnknown(c["nodes"]) && ParseRange(c["nodes"], 1, &min, &max) &&
          (min != 1 || max != 1)) {
        resp.diagnostics.push_back(Err("the local provider has one node; `nodes` must be 1", {"nodes"}));
      }
    } else if (req.kind == "training_job" || req.kind == "endpoint") {
      if (c.contains("image") && !c["image"].is_null())
        resp.diagnostics.push_back(Err(
            "`image` needs a container runtime, and the local provider runs commands directly",
            {"image"}, "remove `image` and give `command`, or use a provider that runs containers"));
      if (!c.contains("command") || c["command"].is_null())
        resp.diagnostics.push_back(Err("the local provider needs a `command` to run", {"command"}));
      if (req.kind == "endpoint" && c.contains("port") && c["port"].is_number()) {
        // Replica i listens on port + i (port 0: free ports).
        int64_t port = c["port"].get<int64_t>(), min = 1, max = 1;
        if (!ParseRange(c.value("replicas", json()), 1, &min, &max)) max = min = 1;
        if (port < 0 || port + std::max<int64_t>(max, 1) - 1 > 65535)
          resp.diagnostics.push_back(Err(
              "`port` " + std::to_string(port) + " is out of range for " + std::to_string(max) +
                  " replica(s): replica i listens on port + i, up to 65535",
              {"port"}, "use a port in 1.." + std::to_string(65536 - std::max<int64_t>(max, 1)) +
                            ", or 0 for free ports"));
      }
    } else if (req.kind != "datastore") {
      resp.diagnostics.push_back(Err("the local provider has no kind `" + req.kind + "`"));
    }
    return resp;
  }

  PlanResponse Plan(const PlanRequest& req) override {
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
      computed = {"id", "url", "urls", "status", "log_dir"};
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
    for (const auto& f : computed) {
      planned[f] = fresh ? Unknown() : (prior.contains(f) ? prior[f] : json());
    }
    if (req.kind == "cluster") {
      planned["simulated"] = simulated_;
      std::vector<int> free;
      GpuRequest gpu;
      std::string error;
      if (!ParseGpu(req.config.value("gpu", json()), &gpu, &error)) {
        if (!ContainsUnknown(req.config.value("gpu", json())))
          resp.diagnostics.push_back(Err(error, {"gpu"}));
      } else if (fresh && gpu.count > 0) {
        if (!FitCluster(req.address, gpu, &free, &error)) resp.diagnostics.push_back(Err(error, {"gpu"}));
      }
    } else if (req.kind == "datastore" && fresh) {
      json path = planned.value("path", json());
      if (!IsUnknown(path)) {
        std::string p = DatastoreDir(req.address, path);
        planned["id"] = p;
        planned["uri"] = "file://" + p;
      }
    } else if (req.kind == "endpoint" && fresh) {
      // A fixed port that something else holds now is an error at plan
      // time already (apply checks again before each replica starts).
      int64_t min = 1, max = 1;
      std::string error;
      if (ParseRange(planned.value("replicas", json()), 1, &min, &max) &&
          !CheckPorts(req.address, "", planned, static_cast<int>(min), &error))
        resp.diagnostics.push_back(Err("endpoint " + req.address + ": " + error, {"port"}, kPortHelp));
    } else if (req.kind == "endpoint" && !fresh) {
      // Changed replicas or command: a rolling restart on the same ports;
      // url and urls stay as they are unless the count or the port changes.
      int64_t pmin = 0, pmax = 0, cmin = 0, cmax = 0;
      bool moved = !SameValue(prior.value("port", json()), planned.value("port", json()));
      if (!ParseRange(prior.value("replicas", json()), 1, &pmin, &pmax) ||
          !ParseRange(planned.value("replicas", json()), 1, &cmin, &cmax) || pmin != cmin || moved) {
        planned["urls"] = Unknown();
        planned["url"] = cmin > 0 && pmin > 0 && !moved ? prior.value("url", json()) : Unknown();
        planned["status"] = Unknown();
      }
    }
    resp.planned = planned;
    return resp;
  }

  // Cancellation: Apply notes the cancel generation on its thread; the
  // waits (health checks, `wait = true` jobs) give up once it moves.
  void Cancel() override { ++cancel_gen_; }
  bool Cancelled() const { return cancel_gen_.load() != t_apply_gen; }

  ApplyResponse Apply(const ApplyRequest& req) override {
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

  ReadResponse Read(const ReadRequest& req) override {
    ReadResponse resp;
    if (req.kind == "cluster") {
      fs::path file = root_ / "clusters" / (Slug(req.address) + ".json");
      json r = ReadJson(file);
      if (!r.is_object()) return resp;  // gone
      json state = req.state.is_object() ? req.state : r.value("state", json::object());
      state["gpu_indices"] = r["gpus"];
      state["status"] = "ready";
      resp.state = state;
    } else if (req.kind == "datastore") {
      fs::path ref = root_ / "datastores" / (Slug(req.address) + ".json");
      json r = ReadJson(ref);
      std::string path = req.state.is_object() ? Str(req.state, "id") : Str(r, "path");
      std::error_code ec;
      if (path.empty() || !fs::is_directory(path, ec)) return resp;
      resp.state = req.state.is_object() ? req.state : r.value("state", json::object());
    } else if (req.kind == "training_job") {
      fs::path dir = req.state.is_object() ? JobDir(Str(req.state, "id")) : FindByAddress("jobs", req.address);
      if (dir.empty() || !fs::is_directory(dir)) return resp;
      json state = req.state.is_object() ? req.state : ReadJson(dir / "state.json");
      RefreshJob(dir, &state);
      resp.state = state;
    } else if (req.kind == "endpoint") {
      fs::path dir = req.state.is_object() ? root_ / "endpoints" / Str(req.state, "id")
                                           : FindByAddress("endpoints", req.address);
      if (dir.empty() || !fs::is_directory(dir)) return resp;
      json state = req.state.is_object() ? req.state : ReadJson(dir / "state.json");
      json replicas = ReadJson(dir / "replicas.json");
      int alive = 0, total = 0;
      if (replicas.is_array()) {
        for (const auto& r : replicas) {
          ++total;
          if (sys_->Alive(static_cast<pid_t>(r.value("pid", 0)))) ++alive;
        }
      }
      if (alive < total) {
        // Dead replicas are drift: report fewer running replicas than
        // configured, so the next plan updates the endpoint, which restarts them.
        state["status"] = alive == 0 ? "failed" : "degraded";
        if (state["replicas"].is_object()) state["replicas"]["min"] = alive;
        else state["replicas"] = alive;
      }
      resp.state = state;
    } else {
      resp.diagnostics.push_back(Err("the local provider has no kind `" + req.kind + "`"));
    }
    return resp;
  }

  DeleteResponse Delete(const DeleteRequest& req) override {
    DeleteResponse resp;
    std::error_code ec;
    if (req.kind == "cluster") {
      std::lock_guard<std::mutex> lock(reservations_mu_);
      FileLock flock_(root_ / "clusters" / ".lock");
      fs::remove(root_ / "clusters" / (Slug(req.address) + ".json"), ec);
    } else if (req.kind == "datastore") {
      std::string path = Str(req.state, "id");
      if (!path.empty() && fs::is_directory(path, ec)) {
        bool has_data = false;
        for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
          if (it->path().filename() != ".kiln-address") has_data = true;
        if (has_data && !Bool(req.state, "force_destroy")) {
          resp.diagnostics.push_back(Err("datastore " + path + " holds data; it is kept",
                                         {"force_destroy"},
                                         "set `force_destroy = true` (and apply) to delete it with its data"));
          return resp;
        }
        fs::remove_all(path, ec);
      }
      fs::remove(root_ / "datastores" / (Slug(req.address) + ".json"), ec);
    } else if (req.kind == "training_job") {
      fs::path dir = JobDir(Str(req.state, "id"));
      StopSession(ReadPid(dir / "pid"));
      fs::remove_all(dir, ec);
    } else if (req.kind == "endpoint") {
      fs::path dir = root_ / "endpoints" / Str(req.state, "id");
      json replicas = ReadJson(dir / "replicas.json");
      if (replicas.is_array())
        for (const auto& r : replicas) StopSession(static_cast<pid_t>(r.value("pid", 0)));
      fs::remove_all(dir, ec);
    }
    if (ec) resp.diagnostics.push_back(Err("could not remove everything of " + req.address + ": " + ec.message()));
    return resp;
  }

  ImportResponse Import(const ImportRequest& req) override {
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

  InventoryResponse Inventory() override {
    InventoryResponse resp;
    resp.simulated = simulated_;
    std::set<int> reserved = Reserved("");
    InventoryNode node;
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    node.name = host;
    std::map<std::string, InventoryGpu> by_model;
    for (const auto& g : gpus_) {
      auto& m = by_model[g.model];
      m.model = g.model;
      m.memory = g.memory;
      ++m.count;
      if (!reserved.count(g.index)) ++m.free;
    }
    for (auto& [model, g] : by_model) node.gpus.push_back(g);
    resp.nodes.push_back(node);
    return resp;
  }

 private:
  // ---------------------------------------------------------- clusters

  // GPU indices reserved by clusters other than `except_address`.
  std::set<int> Reserved(const std::string& except_address,
                         std::map<int, std::string>* owners = nullptr) {
    std::set<int> out;
    std::error_code ec;
    for (fs::directory_iterator it(root_ / "clusters", ec), end; !ec && it != end; it.increment(ec)) {
      if (it->path().extension() != ".json") continue;
      json r = ReadJson(it->path());
      if (!r.is_object() || Str(r, "address") == except_address) continue;
      for (const auto& g : r.value("gpus", json::array())) {
        out.insert(g.get<int>());
        if (owners) (*owners)[g.get<int>()] = Str(r, "address");
      }
    }
    return out;
  }

  bool FitCluster(const std::string& address, const GpuRequest& gpu, std::vector<int>* picked,
                  std::string* error) {
    std::map<int, std::string> owners;
    std::set<int> reserved = Reserved(address, &owners);
    std::string model = gpu.model.empty() ? "" : catalog_->Normalize(gpu.model);
    if (model.empty()) model = gpu.model;
    int matching = 0;
    for (const auto& g : gpus_) {
      if (!model.empty() && g.model != model) continue;
      if (gpu.memory > 0 && g.memory < gpu.memory) continue;
      ++matching;
      if (!reserved.count(g.index) && static_cast<int>(picked->size()) < gpu.count) picked->push_back(g.index);
    }
    if (static_cast<int>(picked->size()) >= gpu.count) return true;
    std::string what = std::to_string(gpu.count) + " × " + (model.empty() ? "GPU" : model);
    if (gpus_.empty()) {
      *error = "cluster needs " + what + " but this machine has no GPUs (nvidia-smi found none)";
    } else if (matching < gpu.count) {
      *error = "cluster needs " + what + " but this machine has " + std::to_string(matching) +
               (simulated_ ? " (simulated)" : "");
    } else {
      std::set<std::string> who;
      for (const auto& [i, a] : owners) who.insert(a);
      std::string list;
      for (const auto& a : who) list += (list.empty() ? "" : ", ") + a;
      *error = "cluster needs " + what + " but only " + std::to_string(picked->size()) + " of " +
               std::to_string(matching) + " are free (reserved by " + list + ")";
    }
    picked->clear();
    return false;
  }

  ApplyResponse ApplyCluster(const ApplyRequest& req) {
    ApplyResponse resp;
    GpuRequest gpu;
    std::string error;
    if (!ParseGpu(req.config.value("gpu", json()), &gpu, &error)) {
      resp.diagnostics.push_back(Err(error, {"gpu"}));
      return resp;
    }
    std::lock_guard<std::mutex> lock(reservations_mu_);
    FileLock flock_(root_ / "clusters" / ".lock");
    std::vector<int> picked;
    fs::path file = root_ / "clusters" / (Slug(req.address) + ".json");
    json existing = ReadJson(file);
    if (!req.prior.is_null() && existing.is_object() && SameValue(req.prior.value("gpu", json()), req.config.value("gpu", json()))) {
      for (const auto& g : existing["gpus"]) picked.push_back(g.get<int>());
    } else if (gpu.count > 0 && !FitCluster(req.address, gpu, &picked, &error)) {
      resp.diagnostics.push_back(Err(error, {"gpu"}));
      return resp;
    }
    json state = req.config;
    state["id"] = Slug(req.address);
    state["status"] = "ready";
    state["gpu_indices"] = picked;
    state["simulated"] = simulated_;
    json record = {{"address", req.address}, {"id", state["id"]}, {"gpus", picked}, {"state", state}};
    if (!WriteText(file, record.dump(2))) {
      resp.diagnostics.push_back(Err("cannot write " + file.string()));
      return resp;
    }
    if (req.progress) req.progress("reserved GPUs [" + Join(picked, ",") + "]");
    resp.state = state;
    return resp;
  }

  // ---------------------------------------------------------- datastores

  std::string DatastoreDir(const std::string& address, const json& path) {
    std::string p = path.is_string() ? path.get<std::string>() : (root_ / "datastores" / Slug(address)).string();
    return fs::absolute(p).lexically_normal().string();
  }

  ApplyResponse ApplyDatastore(const ApplyRequest& req) {
    ApplyResponse resp;
    std::string dir = DatastoreDir(req.address, req.config.value("path", json()));
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      resp.diagnostics.push_back(Err("cannot create " + dir + ": " + ec.message(), {"path"}));
      return resp;
    }
    json state = req.config;
    state["id"] = dir;
    state["uri"] = "file://" + dir;
    WriteText(fs::path(dir) / ".kiln-address", req.address + "\n");
    WriteText(root_ / "datastores" / (Slug(req.address) + ".json"),
              json({{"address", req.address}, {"path", dir}, {"state", state}}).dump(2));
    resp.state = state;
    return resp;
  }

  // ---------------------------------------------------------- processes

  fs::path JobDir(const std::string& id) { return id.empty() ? fs::path() : root_ / "jobs" / id; }

  // The newest object directory under root/<area> whose `address` file names `address`.
  fs::path FindByAddress(const std::string& area, const std::string& address) {
    fs::path best;
    std::string best_name;
    std::error_code ec;
    for (fs::directory_iterator it(root_ / area, ec), end; !ec && it != end; it.increment(ec)) {
      std::string a = ReadText(it->path() / "address");
      while (!a.empty() && a.back() == '\n') a.pop_back();
      if (a != address) continue;
      std::string name = it->path().filename().string();
      // Names end in a fixed-width creation time: the largest is the newest.
      if (best.empty() || name > best_name) {
        best = it->path();
        best_name = name;
      }
    }
    return best;
  }

  std::string NewId(const std::string& address) {
    char buf[32];
    snprintf(buf, sizeof buf, "%013lld", static_cast<long long>(sys_->NowMs()));
    std::lock_guard<std::mutex> lock(id_mu_);
    return Slug(address) + "-" + buf + "-" + std::to_string(++id_counter_);
  }

  static pid_t ReadPid(const fs::path& p) {
    std::string s = ReadText(p);
    try {
      return s.empty() ? 0 : static_cast<pid_t>(std::stol(s));
    } catch (...) {
      return 0;
    }
  }

  // SIGTERM to the whole session, SIGKILL if it lingers.
  void StopSession(pid_t pid) {
    if (pid <= 0 || !sys_->Alive(pid)) return;
    sys_->KillSession(pid, SIGTERM);
    for (int i = 0; i < 50 && sys_->Alive(pid); ++i) sys_->SleepMs(100);
    sys_->KillSession(pid, SIGKILL);
    for (int i = 0; i < 20 && sys_->Alive(pid); ++i) sys_->SleepMs(50);
  }

  bool CommandArgv(const json& command, std::vector<std::string>* argv, std::string* error) {
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

  // A reference to another local object: its attribute object, or its
  // address as a string ("datastore.ckpt", relative to the referring
  // resource's module). Returns the record this provider keeps for it under
  // ROOT/<area>/, or null.
  json ResolveRef(const json& ref, const std::string& area, const std::string& self_address) {
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

  std::string DatastoreDirOf(const json& ref, const std::string& self_address) {
    if (ref.is_object()) return DatastorePath(ref);
    json r = ResolveRef(ref, "datastores", self_address);
    return r.is_object() ? Str(r, "path") : "";
  }

  // GPUs for a job or an endpoint: `per` GPUs for each of `copies` processes.
  bool AssignGpus(const json& config, const std::string& address, int copies,
                  std::vector<std::vector<int>>* out, std::string* error) {
    GpuRequest gpu;
    if (!ParseGpu(config.value("gpu", json()), &gpu, error)) return false;
    std::vector<int> pool;
    json cluster = config.value("cluster", json());
    bool has_cluster = cluster.is_object() || cluster.is_string();
    if (has_cluster) {
      json r = ResolveRef(cluster, "clusters", address);
      if (!r.is_object() && cluster.is_string()) {
        *error = "cannot find the cluster `" + cluster.get<std::string>() + "` (it is not a local cluster)";
        return false;
      }
      json indices = r.is_object() ? r["gpus"] : cluster.value("gpu_indices", json());
      if (indices.is_array())
        for (const auto& i : indices) pool.push_back(i.get<int>());
      if (gpu.count == 0 && copies == 1) gpu.count = static_cast<int>(pool.size());
    } else if (gpu.count > 0) {
      std::set<int> reserved = Reserved("");
      for (const auto& g : gpus_)
        if (!reserved.count(g.index)) pool.push_back(g.index);
    }
    size_t need = static_cast<size_t>(gpu.count) * copies;
    if (need > pool.size()) {
      *error = "needs " + std::to_string(need) + " GPUs (" + std::to_string(gpu.count) + " × " +
               std::to_string(copies) + ") but " +
               (has_cluster ? "its cluster has " : "this machine has ") +
               std::to_string(pool.size()) + " free";
      return false;
    }
    for (int c = 0; c < copies; ++c)
      out->emplace_back(pool.begin() + c * gpu.count, pool.begin() + (c + 1) * gpu.count);
    return true;
  }

  std::map<std::string, std::string> BaseEnv(const json& config) {
    std::map<std::string, std::string> env;
    for (const char* key : {"env", "secrets"}) {
      json m = config.value(key, json::object());
      if (!m.is_object()) continue;
      for (const auto& [k, v] : m.items()) env[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
    return env;
  }

  // ---------------------------------------------------------- training jobs

  void RefreshJob(const fs::path& dir, json* state) {
    std::string code_text = ReadText(dir / "exit_code");
    if (!code_text.empty()) {
      int code = std::atoi(code_text.c_str());
      (*state)["exit_code"] = code;
      (*state)["status"] = code == 0 ? "succeeded" : "failed";
      return;
    }
    pid_t pid = ReadPid(dir / "pid");
    if (pid > 0 && sys_->Alive(pid)) {
      (*state)["status"] = "running";
      (*state)["exit_code"] = nullptr;
      return;
    }
    // Neither running nor an exit code: killed outside kiln (or the machine
    // rebooted).
    (*state)["status"] = fs::exists(dir / "cancelled") ? "cancelled" : "failed";
    (*state)["exit_code"] = nullptr;
  }

  ApplyResponse ApplyJob(const ApplyRequest& req) {
    ApplyResponse resp;
    const json& c = req.config;
    if (!req.prior.is_null()) {
      // Only `wait` changes in place (Plan replaces for anything else).
      json state = req.prior;
      state["wait"] = c.value("wait", false);
      fs::path dir = JobDir(Str(state, "id"));
      RefreshJob(dir, &state);
      if (Bool(c, "wait")) WaitForJob(req, dir, &state, &resp.diagnostics);
      resp.state = state;
      return resp;
    }
    ValidateResponse v = Validate({req.kind, req.address, c});
    if (HasErrors(v.diagnostics)) {
      resp.diagnostics = v.diagnostics;
      return resp;
    }
    std::vector<std::string> command;
    std::string error;
    if (!CommandArgv(c.value("command", json()), &command, &error)) {
      resp.diagnostics.push_back(Err(error, {"command"}));
      return resp;
    }
    std::vector<std::vector<int>> gpus;
    if (!AssignGpus(c, req.address, 1, &gpus, &error)) {
      resp.diagnostics.push_back(Err("training job " + error, {"gpu"}));
      return resp;
    }
    std::string id = NewId(req.address);
    fs::path dir = JobDir(id);
    std::error_code ec;
    fs::create_directories(dir, ec);
    // The address first: an interrupted create is found again by it.
    WriteText(dir / "address", req.address + "\n");
    WriteText(dir / "run.sh", kJobWrapper);

    auto env = BaseEnv(c);
    env["CUDA_VISIBLE_DEVICES"] = Join(gpus[0], ",");
    env["KILN_JOB_ID"] = id;
    std::string output = (dir / "output").string();
    if (c.contains("output") && !c["output"].is_null()) {
      output = DatastoreDirOf(c["output"], req.address);
      if (output.empty()) {
        resp.diagnostics.push_back(Err("cannot find the output datastore of " + req.address +
                                       " among this provider's datastores", {"output"}));
        fs::remove_all(dir, ec);
        return resp;
      }
    }
    fs::create_directories(output, ec);
    env["KILN_OUTPUT"] = output;
    if (c.contains("inputs") && c["inputs"].is_object())
      for (const auto& [name, ds] : c["inputs"].items()) env["KILN_INPUT_" + EnvName(name)] = DatastoreDirOf(ds, req.address);
    int64_t max_runtime = Int(c, "max_runtime", 0);
    if (max_runtime > 0) env["KILN_MAX_RUNTIME_S"] = std::to_string((max_runtime + 999) / 1000);

    json state = c;
    state["id"] = id;
    state["status"] = "running";
    state["exit_code"] = nullptr;
    state["checkpoint"] = "file://" + output;
    state["log"] = (dir / "log").string();
    json saved = state;
    if (saved.contains("secrets")) saved["secrets"] = json::object();  // never on disk in clear
    WriteText(dir / "state.json", saved.dump(2));

    local::SpawnSpec spec;
    spec.argv = {"/bin/sh", (dir / "run.sh").string(), dir.string()};
    spec.argv.insert(spec.argv.end(), command.begin(), command.end());
    spec.env = env;
    spec.log_path = (dir / "log").string();
    pid_t pid = sys_->SpawnDetached(spec, &error);
    if (pid <= 0) {
      fs::remove_all(dir, ec);
      resp.diagnostics.push_back(Err("cannot start training job " + req.address + ": " + error, {"command"}));
      return resp;
    }
    WriteText(dir / "pid", std::to_string(pid) + "\n");
    if (req.progress) req.progress("started pid " + std::to_string(pid) + ", log " + (dir / "log").string());
    if (Bool(c, "wait")) WaitForJob(req, dir, &state, &resp.diagnostics);
    resp.state = state;
    return resp;
  }

  void WaitForJob(const ApplyRequest& req, const fs::path& dir, json* state, ProviderDiagnostics* diags) {
    int64_t start = sys_->NowMs(), last_note = start;
    RefreshJob(dir, state);
    while ((*state)["status"] == "running") {
      if (Cancelled()) {
        // The job itself keeps running (it is recorded, tainted); only
        // kiln's wait for it is aborted.
        diags->push_back(Err("cancelled while waiting for training job " + req.address +
                             " to finish; the job keeps running"));
        return;
      }
      sys_->SleepMs(200);
      RefreshJob(dir, state);
      int64_t now = sys_->NowMs();
      if (req.progress && now - last_note >= 10000) {
        req.progress("running (" + std::to_string((now - start) / 1000) + "s elapsed)");
        last_note = now;
      }
    }
    if ((*state)["status"] == "succeeded") return;
    std::string how = (*state)["exit_code"].is_number()
                          ? "exit status " + std::to_string((*state)["exit_code"].get<int>())
                          : "it was killed";
    int code = (*state)["exit_code"].is_number() ? (*state)["exit_code"].get<int>() : -1;
    if (code == 124 || code == 137) how += ": it ran longer than max_runtime and was stopped";
    diags->push_back(Err("training job " + req.address + " failed (" + how + ")", {},
                         "last lines of " + (dir / "log").string() + ":\n" + LastLines(dir / "log", 10)));
  }

  // ---------------------------------------------------------- endpoints

  struct Replica {
    int index = 0;
    pid_t pid = 0;
    int port = 0;
  };

  std::vector<Replica> LoadReplicas(const fs::path& dir) {
    std::vector<Replica> out;
    json j = ReadJson(dir / "replicas.json");
    if (j.is_array())
      for (const auto& r : j)
        out.push_back({static_cast<int>(r.value("index", 0)), static_cast<pid_t>(r.value("pid", 0)),
                       static_cast<int>(r.value("port", 0))});
    return out;
  }

  void SaveReplicas(const fs::path& dir, const std::vector<Replica>& rs) {
    json j = json::array();
    for (const auto& r : rs) j.push_back({{"index", r.index}, {"pid", r.pid}, {"port", r.port}});
    WriteText(dir / "replicas.json", j.dump(2));
  }

  bool StartReplica(const json& c, const fs::path& dir, const std::vector<int>& gpus, Replica* r,
                    std::string* error) {
    std::vector<std::string> command;
    if (!CommandArgv(c.value("command", json()), &command, error)) return false;
    auto env = BaseEnv(c);
    env["PORT"] = std::to_string(r->port);
    env["KILN_REPLICA"] = std::to_string(r->index);
    env["CUDA_VISIBLE_DEVICES"] = Join(gpus, ",");
    if (c.contains("model") && c["model"].is_string()) env["KILN_MODEL"] = c["model"].get<std::string>();
    local::SpawnSpec spec;
    spec.argv = command;
    spec.env = env;
    spec.log_path = (dir / ("replica-" + std::to_string(r->index) + ".log")).string();
    r->pid = sys_->SpawnDetached(spec, error);
    return r->pid > 0;
  }

  // Polls GET health_check.path until 2xx, the process dies or the timeout passes.
  bool WaitHealthy(const json& c, const fs::path& dir, const Replica& r, const ApplyRequest& req,
                   std::string* error) {
    json hc = c.value("health_check", json::object());
    std::string path = Str(hc, "path", "/health");
    int64_t timeout = Int(hc, "timeout", 60000);
    std::string url = "http://127.0.0.1:" + std::to_string(r.port) + path;
    int64_t start = sys_->NowMs(), last_note = start;
    int last_status = -1;
    while (true) {
      last_status = sys_->HttpGet(url, 1000);
      if (last_status >= 200 && last_status < 300) return true;
      if (Cancelled()) {
        // A replica that never became healthy is stopped, not left behind.
        StopSession(r.pid);
        *error = "cancelled while waiting for replica " + std::to_string(r.index) +
                 " to be healthy; the replica was stopped";
        return false;
      }
      if (!sys_->Alive(r.pid)) {
        *error = "replica " + std::to_string(r.index) + " exited before it was healthy; last lines of its log:\n" +
                 LastLines(dir / ("replica-" + std::to_string(r.index) + ".log"), 10);
        return false;
      }
      int64_t now = sys_->NowMs();
      if (now - start >= timeout) {
        *error = "replica " + std::to_string(r.index) + " did not answer GET " + url + " with 2xx within " +
                 std::to_string(timeout / 1000) + "s" +
                 (last_status > 0 ? " (last status " + std::to_string(last_status) + ")" : "");
        return false;
      }
      if (req.progress && now - last_note >= 10000) {
        req.progress("waiting for replica " + std::to_string(r.index) + " to be healthy");
        last_note = now;
      }
      sys_->SleepMs(100);
    }
  }

  // What, when changed, makes running replicas stale.
  static bool ReplicaSpecChanged(const json& prior, const json& config) {
    for (const char* k : {"command", "env", "secrets", "model", "port", "health_check"}) {
      json a = prior.contains(k) ? prior[k] : json(), b = config.contains(k) ? config[k] : json();
      if (!SameValue(a, b)) return true;
    }
    return false;
  }

  static constexpr char kPortHelp[] =
      "replica i listens on `port` + i; choose another port, stop what listens there, or set "
      "`port = 0` to give each replica a free port";

  // The endpoint replica (of any endpoint under the root) that listens on
  // `port`, alive: its object id, address and pid. False when none does.
  bool PortOwner(int port, std::string* id, std::string* address, pid_t* pid) {
    std::error_code ec;
    for (fs::directory_iterator it(root_ / "endpoints", ec), end; !ec && it != end; it.increment(ec)) {
      for (const Replica& r : LoadReplicas(it->path())) {
        if (r.port != port || !sys_->Alive(r.pid)) continue;
        *id = it->path().filename().string();
        *address = ReadText(it->path() / "address");
        while (!address->empty() && address->back() == '\n') address->pop_back();
        *pid = r.pid;
        return true;
      }
    }
    return false;
  }

  // Why `port` cannot be had by endpoint `address` (object `id`, "" for one
  // not created yet), or "" when it is free or held by that endpoint's own
  // earlier object (a replacement takes it over).
  std::string PortProblem(const std::string& address, const std::string& id, int port, int replica) {
    if (sys_->PortFree(port)) return "";
    std::string owner_id, owner, what = "another process";
    pid_t pid = 0;
    if (PortOwner(port, &owner_id, &owner, &pid)) {
      if (owner == address && owner_id != id) return "";
      what = (owner == address ? "this endpoint's replica" : owner.empty() ? "an endpoint" : owner) +
             " (pid " + std::to_string(pid) + ")";
    }
    return "port " + std::to_string(port) + " (replica " + std::to_string(replica) + ") is in use by " + what;
  }

  // Plan-time check of the fixed ports of `replicas` replicas.
  bool CheckPorts(const std::string& address, const std::string& id, const json& config, int replicas,
                  std::string* error) {
    int64_t base = Int(config, "port", 0);
    if (base <= 0) return true;
    for (int i = 0; i < replicas; ++i) {
      *error = PortProblem(address, id, static_cast<int>(base) + i, i);
      if (!error->empty()) return false;
    }
    return true;
  }

  // Before replica `replica` of object `id` starts on `port`: a replica of
  // the same address's earlier object (create-before-destroy replacement on
  // one machine) is stopped so the new one can listen there; anything else
  // holding the port is an error naming it.
  bool TakePort(const ApplyRequest& req, const std::string& id, int port, int replica, std::string* error) {
    std::string owner_id, owner;
    pid_t pid = 0;
    if (!sys_->PortFree(port) && PortOwner(port, &owner_id, &owner, &pid) && owner == req.address &&
        owner_id != id) {
      if (req.progress)
        req.progress("stopping the replaced object's replica on port " + std::to_string(port) +
                     " (pid " + std::to_string(pid) + ") to take the port over");
      StopSession(pid);
    }
    *error = PortProblem(req.address, id, port, replica);
    return error->empty();
  }

  ApplyResponse ApplyEndpoint(const ApplyRequest& req) {
    ApplyResponse resp;
    const json& c = req.config;
    ValidateResponse v = Validate({req.kind, req.address, c});
    if (HasErrors(v.diagnostics)) {
      resp.diagnostics = v.diagnostics;
      return resp;
    }
    int64_t min = 1, max = 1;
    if (!ParseRange(c.value("replicas", json()), 1, &min, &max) || min < 0) {
      resp.diagnostics.push_back(Err("`replicas` must be a range with min >= 0", {"replicas"}));
      return resp;
    }
    std::string error;
    std::vector<std::vector<int>> gpus;
    if (!AssignGpus(c, req.address, static_cast<int>(min), &gpus, &error)) {
      resp.diagnostics.push_back(Err("endpoint " + error, {"gpu"}));
      return resp;
    }
    bool create = req.prior.is_null();
    std::string id = create ? NewId(req.address) : Str(req.prior, "id");
    fs::path dir = root_ / "endpoints" / id;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (create) WriteText(dir / "address", req.address + "\n");
    std::vector<Replica> old = create ? std::vector<Replica>() : LoadReplicas(dir);
    bool stale = !create && ReplicaSpecChanged(req.prior, c);

    json state = c;
    state["id"] = id;
    state["log_dir"] = dir.string();
    auto save_state = [&] {
      json saved = state;
      if (saved.contains("secrets")) saved["secrets"] = json::object();  // never on disk in clear
      WriteText(dir / "state.json", saved.dump(2));
    };
    if (create) {
      // Before any process starts: read with state null finds them by this.
      state["status"] = "starting";
      save_state();
    }
    std::vector<Replica> now;
    bool ok = true;
    // Replicas one at a time: a rolling restart keeps the others serving.
    for (int i = 0; i < min && ok; ++i) {
      Replica r;
      r.index = i;
      bool have = i < static_cast<int>(old.size());
      if (have) r = old[i];
      bool running = have && sys_->Alive(r.pid);
      if (running && !stale) {
        now.push_back(r);
        continue;
      }
      if (running) {
        if (req.progress) req.progress("restarting replica " + std::to_string(i));
        StopSession(r.pid);
      }
      int64_t base = Int(c, "port", 0);
      if (base > 0) {
        r.port = static_cast<int>(base) + i;
        if (!TakePort(req, id, r.port, i, &error)) {
          resp.diagnostics.push_back(Err("endpoint " + req.address + ": " + error, {"port"}, kPortHelp));
          ok = false;
          break;
        }
      } else if (!have || r.port <= 0) {
        r.port = sys_->FreePort();
      }
      if (!StartReplica(c, dir, gpus[i], &r, &error) || !WaitHealthy(c, dir, r, req, &error)) {
        resp.diagnostics.push_back(Err("endpoint " + req.address + ": " + error));
        ok = false;
      }
      now.push_back(r);
      SaveReplicas(dir, now);  // after each replica: a crash here forgets none
      if (ok && req.progress) req.progress("replica " + std::to_string(i) + " ready on port " + std::to_string(r.port));
    }
    for (size_t i = now.size(); i < old.size(); ++i) StopSession(old[i].pid);
    // On failure the state still lists what was started (status "failed"),
    // so a later apply restarts it and a destroy finds it.
    SaveReplicas(dir, now);
    json urls = json::array();
    for (const auto& r : now) urls.push_back("http://127.0.0.1:" + std::to_string(r.port));
    state["urls"] = urls;
    state["url"] = urls.empty() ? json("") : urls[0];
    state["status"] = ok ? "ready" : "failed";
    save_state();
    resp.state = state;
    return resp;
  }

  std::shared_ptr<local::System> sys_;
  const local::GpuCatalog* catalog_;
  ProviderSchema schema_;
  fs::path root_ = fs::absolute(".kiln/local");
  std::vector<local::LocalGpu> gpus_;
  bool simulated_ = false;
  std::mutex reservations_mu_, id_mu_;
  int id_counter_ = 0;
  std::atomic<uint64_t> cancel_gen_{0};
};

}  // namespace

std::unique_ptr<Provider> NewLocalProvider() { return NewLocalProvider(local::RealSystem()); }

std::unique_ptr<Provider> NewLocalProvider(std::shared_ptr<local::System> system,
                                           const local::GpuCatalog* catalog) {
  return std::make_unique<LocalProvider>(std::move(system), catalog);
}

}  // namespace kiln
