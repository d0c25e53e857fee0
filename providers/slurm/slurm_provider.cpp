#include "providers/slurm/slurm_provider.h"

#include <unistd.h>

#include <chrono>
#include <cctype>
#include <fstream>
#include <random>
#include <thread>

#include "providers/slurm/provider_impl.h"

namespace kiln {
namespace slurm {

namespace fs = std::filesystem;

namespace {
// The cancel generation an Apply started under (see Cancel()).
thread_local uint64_t t_apply_gen = 0;
}  // namespace

// ------------------------------------------------------------ helpers

bool IsUnknown(const json& j) { return j.is_object() && j.contains("$unknown"); }
json Unknown() { return {{"$unknown", true}}; }

bool ContainsUnknown(const json& j) {
  if (IsUnknown(j)) return true;
  if (j.is_structured())
    for (const auto& v : j)
      if (ContainsUnknown(v)) return true;
  return false;
}

std::string Str(const json& obj, const std::string& key, const std::string& def) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return def;
  return obj[key].get<std::string>();
}

int64_t Int(const json& obj, const std::string& key, int64_t def) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number()) return def;
  return obj[key].get<int64_t>();
}

bool Bool(const json& obj, const std::string& key, bool def) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_boolean()) return def;
  return obj[key].get<bool>();
}

ProviderDiagnostic Err(std::string summary, Path attribute, std::string detail) {
  return {Severity::kError, std::move(summary), std::move(detail), std::move(attribute)};
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

std::string LastLines(const std::string& path, int n) {
  std::ifstream in(path);
  if (!in) return "(" + path + " cannot be read here)";
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (static_cast<int>(lines.size()) > n) lines.erase(lines.begin());
  }
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : "\n") + l;
  return out;
}

namespace {
// References arrive as attribute objects: compare them by id.
json Identity(const json& v) {
  if (v.is_object() && v.contains("id") && !v.contains("$unknown")) return v["id"];
  if (v.is_object()) {
    json out = json::object();
    for (const auto& [k, e] : v.items()) out[k] = Identity(e);
    return out;
  }
  return v;
}
}  // namespace

bool SameValue(const json& a, const json& b) {
  if (IsUnknown(a) || IsUnknown(b)) return false;
  return Identity(a) == Identity(b);
}

std::string JobStatus(const std::string& s) {
  if (s == "PENDING" || s == "CONFIGURING" || s == "REQUEUED" || s == "REQUEUE_HOLD" || s == "REQUEUE_FED" ||
      s == "RESV_DEL_HOLD" || s == "SUSPENDED" || s == "STOPPED")
    return "pending";
  if (s == "RUNNING" || s == "COMPLETING" || s == "SIGNALING" || s == "STAGE_OUT" || s == "RESIZING")
    return "running";
  if (s == "COMPLETED") return "succeeded";
  if (s == "CANCELLED") return "cancelled";
  return "failed";  // FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE, PREEMPTED
}

bool JobAlive(const std::string& s) {
  std::string st = JobStatus(s);
  return st == "pending" || st == "running";
}

json ExitCode(const JobInfo& job) {
  if (JobAlive(job.state)) return nullptr;
  int64_t signal = job.exit_code & 0x7f;
  if (signal) return 128 + signal;
  return (job.exit_code >> 8) & 0xff;
}

std::string CommentPrefix(const std::string& address) { return "kiln:" + address; }

bool CommentIsFor(const std::string& comment, const std::string& address) {
  std::string p = CommentPrefix(address);
  return comment == p || comment.rfind(p + " ", 0) == 0;
}

// ------------------------------------------------------------ provider

SlurmProvider::SlurmProvider(SlurmSeams seams) : seams_(std::move(seams)), catalog_(&local::GpuCatalog::Default()) {
  if (!seams_.http) seams_.http = CurlHttp();
  schema_.name = "slurm";
  schema_.version = KILN_VERSION;
  schema_.protocol_version = 1;
  schema_.config["url"] = {"string", false, false, false, "slurmrestd's URL, e.g. http://slurm-head:6820."};
  schema_.config["user"] = {"string", false, false, false, "The Slurm user the jobs run as (not root)."};
  schema_.config["token"] = {"string", false, false, true,
                             "A JWT for `user` (`scontrol token`); env(\"SLURM_JWT\") is typical."};
  schema_.config["partition"] = {"string?", true, false, false, "Default partition."};
  schema_.config["account"] = {"string?", true, false, false, "Default account."};
  schema_.config["qos"] = {"string?", true, false, false, "Default QOS."};
  schema_.config["shared_root"] = {"string", false, false, false,
                                   "A directory on the cluster's shared filesystem, also mounted where kiln runs."};
  schema_.config["job_path"] = {"string?", true, false, false, "PATH of the jobs (default: the usual system PATH)."};
  schema_.kinds["cluster"].fields["node_count"] = {"int", false, true, false, "Nodes in the partition."};
  schema_.kinds["datastore"] = {};
  schema_.kinds["training_job"].fields["log"] = {"string", false, true, false, "The job's stdout and stderr."};
  schema_.kinds["training_job"].fields["attempts"] = {"int", false, true, false,
                                                      "Times the job was submitted (retries included)."};
  schema_.kinds["endpoint"].fields["job_ids"] = {"list<string>", false, true, false, "Slurm job id of each replica."};
  schema_.capabilities = {"inventory", "read_batch"};
}

ConfigureResponse SlurmProvider::Configure(const ConfigureRequest& req) {
  ConfigureResponse resp;
  configure_error_.clear();
  auto fail = [&](ProviderDiagnostic d) {
    resp.diagnostics.push_back(d);
    configure_error_ = resp.diagnostics;
    return resp;
  };
  const json& c = req.config;
  ClientOptions o;
  o.url = Str(c, "url");
  o.user = Str(c, "user");
  o.token = Str(c, "token");
  o.sleep = seams_.sleep;
  partition_ = Str(c, "partition");
  account_ = Str(c, "account");
  qos_ = Str(c, "qos");
  job_path_ = Str(c, "job_path", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  if (o.url.empty()) return fail(Err("the slurm provider needs `url` (slurmrestd's address)", {"url"}));
  if (o.user.empty()) return fail(Err("the slurm provider needs `user`", {"user"}));
  if (o.user == "root") return fail(Err("slurmrestd rejects tokens for root; set `user` to an ordinary user", {"user"}));
  if (o.token.empty())
    return fail(Err("the slurm provider's `token` is empty", {"token"},
                    "set it from the environment: token = env(\"SLURM_JWT\") with SLURM_JWT from `scontrol token username=" +
                        o.user + "`"));
  json claims = JwtClaims(o.token);
  if (claims.is_object()) {
    int64_t exp = Int(claims, "exp", 0);
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
    if (exp > 0 && exp < now)
      return fail(Err("the slurm provider's token expired " + std::to_string(now - exp) + "s ago", {"token"},
                      "get a new one: scontrol token username=" + o.user));
    std::string sun = Str(claims, "sun");
    if (!sun.empty() && sun != o.user)
      return fail(Err("the slurm provider's token is for user `" + sun + "`, not `" + o.user + "`", {"token"}));
  }
  std::string root = Str(c, "shared_root");
  std::error_code ec;
  if (root.empty() || root[0] != '/')
    return fail(Err("the slurm provider needs `shared_root`, an absolute path on the cluster's shared filesystem",
                    {"shared_root"}));
  if (!fs::is_directory(root, ec))
    return fail(Err("shared_root " + root + " is not a directory on this machine", {"shared_root"},
                    "kiln writes job logs and datastores there: run kiln on a host that mounts the cluster's "
                    "shared filesystem (a login node), or create the directory"));
  shared_root_ = fs::path(root).lexically_normal();
  for (const char* sub : {".kiln/records", "logs", "jobs", "datastores"}) {
    fs::create_directories(shared_root_ / sub, ec);
    // The jobs run as `user`, who writes its logs and outputs here.
    if (std::string(sub) != ".kiln/records")
      fs::permissions(shared_root_ / sub, fs::perms::all | fs::perms::sticky_bit, fs::perm_options::add, ec);
  }
  client_ = std::make_unique<Client>(seams_.http, o);
  if (!client_->Negotiate(&resp.diagnostics)) {
    configure_error_ = resp.diagnostics;
    return resp;
  }
  // A token Slurm does not accept fails every call with "Unspecified
  // error": say what it means once, here.
  json answer;
  std::vector<SlurmError> errors;
  if (!client_->Get(client_->api().PingPath(), &answer, &errors, &resp.diagnostics)) {
    configure_error_ = resp.diagnostics;
    return resp;
  }
  if (!errors.empty()) {
    std::string said;
    for (const auto& e : errors) said += (said.empty() ? "" : "; ") + e.message;
    return fail(Err("slurmctld refused the requests of user `" + o.user + "` through " + o.url, {"token"},
                    "the token is wrong, expired or not for this user (Slurm said: " + said +
                        "); get a new one with `scontrol token username=" + o.user + "`"));
  }
  return resp;
}

bool SlurmProvider::Ready(ProviderDiagnostics* diags) {
  if (configure_error_.empty() && client_ && client_->negotiated()) return true;
  if (!configure_error_.empty()) {
    diags->insert(diags->end(), configure_error_.begin(), configure_error_.end());
  } else {
    diags->push_back(Err("the slurm provider is not configured"));
  }
  return false;
}

bool SlurmProvider::Cancelled() const { return cancel_gen_.load() != t_apply_gen; }

void SlurmProvider::Sleep(int ms) {
  if (seams_.sleep) seams_.sleep(ms);
  else std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

std::string SlurmProvider::NewNonce() {
  std::lock_guard<std::mutex> lock(nonce_mu_);
  if (nonce_state_ == 0) nonce_state_ = std::random_device{}() ^ (static_cast<uint64_t>(getpid()) << 32);
  nonce_state_ = nonce_state_ * 6364136223846793005ULL + 1442695040888963407ULL;
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(nonce_state_));
  return buf;
}

const ClusterView* SlurmProvider::View(ProviderDiagnostics* diags) {
  std::lock_guard<std::mutex> lock(view_mu_);
  if (view_) return &*view_;
  if (!Ready(diags)) return nullptr;
  ClusterView v;
  json answer;
  std::vector<SlurmError> errors;
  std::string error;
  if (!client_->Get(client_->api().PartitionsPath(), &answer, &errors, diags)) return nullptr;
  if (!errors.empty()) {
    auto d = SlurmDiagnostics("reading the partitions", errors);
    diags->insert(diags->end(), d.begin(), d.end());
    return nullptr;
  }
  if (!client_->api().ParsePartitions(answer, &v.partitions, &error)) {
    diags->push_back(Err("slurmrestd answered GET partitions with malformed JSON: " + error));
    return nullptr;
  }
  if (!client_->Get(client_->api().NodesPath(), &answer, &errors, diags)) return nullptr;
  if (!errors.empty()) {
    auto d = SlurmDiagnostics("reading the nodes", errors);
    diags->insert(diags->end(), d.begin(), d.end());
    return nullptr;
  }
  if (!client_->api().ParseNodes(answer, &v.nodes, &error)) {
    diags->push_back(Err("slurmrestd answered GET nodes with malformed JSON: " + error));
    return nullptr;
  }
  view_ = std::move(v);
  return &*view_;
}

SlurmProvider::JobsSnapshot SlurmProvider::FetchJobs() {
  JobsSnapshot s;
  if (!Ready(&s.diagnostics)) return s;
  json answer;
  std::vector<SlurmError> errors;
  if (!client_->Get(client_->api().JobsPath(), &answer, &errors, &s.diagnostics)) return s;
  if (!errors.empty()) {
    s.diagnostics = SlurmDiagnostics("listing the jobs", errors);
    return s;
  }
  std::string error;
  if (!client_->api().ParseJobs(answer, &s.jobs, &error)) {
    s.diagnostics.push_back(Err("slurmrestd answered GET jobs with malformed JSON: " + error));
    return s;
  }
  for (size_t i = 0; i < s.jobs.size(); ++i) s.by_id[s.jobs[i].id] = i;
  s.ok = true;
  return s;
}

const JobInfo* SlurmProvider::JobsSnapshot::Find(int64_t id) const {
  auto it = by_id.find(id);
  return it == by_id.end() ? nullptr : &jobs[it->second];
}

const JobInfo* SlurmProvider::JobsSnapshot::FindByComment(const std::string& address, const std::string& extra) const {
  const JobInfo* best = nullptr;
  for (const auto& j : jobs) {
    if (!CommentIsFor(j.comment, address)) continue;
    if (!extra.empty() && (" " + j.comment + " ").find(" " + extra + " ") == std::string::npos) continue;
    if (!best || j.id > best->id) best = &j;
  }
  return best;
}

bool SlurmProvider::CancelJob(int64_t id, ProviderDiagnostics* diags) {
  json answer;
  std::vector<SlurmError> errors;
  if (!client_->Delete(client_->api().JobPath(id), &answer, &errors, diags)) return false;
  ProviderDiagnostics real;
  for (const auto& e : errors) {
    // Already gone or already ending is what a cancel wants.
    if (e.code == 2017 || e.code == 2021 || e.message.find("already completing or completed") != std::string::npos ||
        e.message.find("Invalid job id") != std::string::npos)
      continue;
    auto d = SlurmDiagnostics("cancelling job " + std::to_string(id), {e});
    real.insert(real.end(), d.begin(), d.end());
  }
  diags->insert(diags->end(), real.begin(), real.end());
  return real.empty();
}

bool SlurmProvider::Submit(const JobSpec& base, int64_t* job_id, ProviderDiagnostics* diags, const ProgressFn& progress,
                           bool* uncertain) {
  if (uncertain) *uncertain = false;
  JobSpec spec = base;
  std::string nonce = NewNonce();
  spec.comment += " submit=" + nonce;
  const int kAttempts = 3;
  // After a lost answer, how long to keep asking whether Slurm made the job
  // (a slurmrestd restart takes seconds) before giving up undecided.
  const int kLookupMs = 30000;
  int backoff = 500;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    json answer;
    std::vector<SlurmError> errors;
    bool lost = false;
    ProviderDiagnostics post_diags;
    if (client_->Post(client_->api().SubmitPath(), client_->api().SubmitBody(spec), &answer, &errors, &lost,
                      &post_diags)) {
      int64_t id = 0;
      std::string error;
      if (!client_->api().ParseSubmit(answer, &id, &error)) {
        diags->push_back(Err("slurmrestd answered the submit with malformed JSON: " + error));
        return false;
      }
      if (id <= 0) {
        auto d = SlurmDiagnostics("submitting the job", errors);
        if (d.empty()) d.push_back(Err("slurmrestd accepted the submit but returned no job id"));
        diags->insert(diags->end(), d.begin(), d.end());
        return false;
      }
      // Submitted: errors that came with an id are Slurm's remarks (as
      // sbatch prints them), not failures.
      for (auto d : SlurmDiagnostics("job " + std::to_string(id), errors)) {
        d.severity = Severity::kWarning;
        diags->push_back(d);
      }
      *job_id = id;
      return true;
    }
    if (!lost) {
      diags->insert(diags->end(), post_diags.begin(), post_diags.end());
      return false;
    }
    // No answer: the job may exist. Look for it before submitting again,
    // and never submit again before knowing.
    if (progress) progress("no answer to the submit; looking the job up by its comment");
    JobsSnapshot jobs;
    for (int waited = 0;;) {
      if (Cancelled()) break;
      Sleep(backoff);
      waited += backoff;
      backoff = std::min(backoff * 2, 4000);
      jobs = FetchJobs();
      if (jobs.ok || waited >= kLookupMs) break;
      if (progress) progress("slurmrestd does not answer yet; asking again whether the job was created");
    }
    if (jobs.ok) {
      for (const auto& j : jobs.jobs) {
        if (j.comment == spec.comment) {
          *job_id = j.id;
          return true;
        }
      }
      // Slurm answers and has no such job: it was never created.
      if (attempt < kAttempts) continue;
      diags->insert(diags->end(), post_diags.begin(), post_diags.end());
      return false;
    }
    if (uncertain) *uncertain = true;
    diags->insert(diags->end(), post_diags.begin(), post_diags.end());
    diags->push_back(Err("the submit got no answer and slurmrestd could not be asked whether Slurm created the job",
                         {},
                         "the object is recorded as tainted; the next plan looks the job up by its comment and the "
                         "next apply replaces it, so it never runs twice"));
    diags->insert(diags->end(), jobs.diagnostics.begin(), jobs.diagnostics.end());
    return false;
  }
  return false;
}

// ------------------------------------------------------------ placement

std::string SlurmProvider::PartitionOf(const json& config, const std::string& address) {
  json cluster = config.value("cluster", json());
  if (cluster.is_string()) {
    // A cluster not bound yet (planned in the same run) is checked on its own.
    cluster = ResolveRef(cluster, "cluster", address);
    if (cluster.is_null()) return "";
  }
  if (cluster.is_object() && !IsUnknown(cluster)) {
    json p = cluster.value("partition", json());
    if (p.is_string() && !p.get<std::string>().empty()) return p.get<std::string>();
    if (IsUnknown(p)) return "";
    json id = cluster.value("id", json());
    if (id.is_string()) return id.get<std::string>();
  }
  return partition_;
}

bool SlurmProvider::BuildRequest(const std::string& address, const json& c, int nodes, Request* req,
                                 ProviderDiagnostics* diags) {
  req->who = address;
  req->nodes = nodes;
  json gpu = c.value("gpu", json());
  if (IsUnknown(gpu)) return false;
  if (gpu.is_string()) {
    std::string s = gpu.get<std::string>();
    size_t colon = s.find(':');
    req->gpu_model = catalog_->Normalize(s.substr(0, colon));
    if (req->gpu_model.empty()) req->gpu_model = s.substr(0, colon);
    req->gpus_per_node = colon == std::string::npos ? 1 : std::atoi(s.c_str() + colon + 1);
  } else if (gpu.is_object()) {
    req->gpu_model = Str(gpu, "model");
    req->gpu_memory = Int(gpu, "memory", 0);
    req->gpus_per_node = static_cast<int>(Int(gpu, "count", 1));
  }
  req->cpus_per_node = static_cast<int>(Int(c, "cpus", 0));
  req->memory_per_node = Int(c, "memory", 0);
  return true;
}

void SlurmProvider::CheckPlacement(const std::string& address, const json& c, int nodes, ProviderDiagnostics* diags) {
  std::string partition = PartitionOf(c, address);
  if (partition.empty()) {
    json cluster = c.value("cluster", json());
    if (IsUnknown(cluster) || cluster.is_string()) return;  // checked with its cluster, or at apply
    diags->push_back(Err(address + " has no partition: give it a `cluster` or set the provider's `partition`",
                         {"cluster"}));
    return;
  }
  const ClusterView* view = View(diags);
  if (!view) return;
  std::string error = CheckPartitionExists(*view, partition);
  if (!error.empty()) {
    diags->push_back(Err(error, {"cluster"}));
    return;
  }
  Request req;
  if (!BuildRequest(address, c, nodes, &req, diags)) return;
  error = CheckFit(*view, partition, req, *catalog_);
  if (!error.empty()) diags->push_back(Err(error, {req.gpus_per_node > 0 ? "gpu" : "nodes"}));
  error = CheckAccess(*view->Partition(partition), account_, qos_);
  if (!error.empty()) diags->push_back(Err(error, {}, "set the provider's `account` / `qos` to ones the partition allows"));
}

std::string SlurmProvider::GresFor(const std::string& partition, const Request& req) {
  if (req.gpus_per_node <= 0) return "";
  std::string count = std::to_string(req.gpus_per_node);
  if (req.gpu_model.empty()) return "gpu:" + count;
  ProviderDiagnostics ignored;
  if (const ClusterView* view = View(&ignored)) {
    for (const NodeInfo* n : view->NodesOf(partition))
      for (const auto& g : n->gres)
        if (g.name == "gpu" && !g.type.empty() && GresModel(g.type, *catalog_) == req.gpu_model)
          return "gpu:" + g.type + ":" + count;
  }
  std::string type = req.gpu_model;
  for (char& ch : type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return "gpu:" + type + ":" + count;
}

// ------------------------------------------------------------ dispatch

ValidateResponse SlurmProvider::Validate(const ValidateRequest& req) {
  ValidateResponse resp;
  const json& c = req.config;
  if (req.kind == "training_job" || req.kind == "endpoint") {
    if (c.contains("image") && !c["image"].is_null())
      resp.diagnostics.push_back(Err("`image` needs a container runtime, and the slurm provider runs commands "
                                     "directly on the nodes", {"image"}, "remove `image` and give `command`"));
    for (const char* k : {"workdir", "files"})
      if (c.contains(k) && !c[k].is_null())
        resp.diagnostics.push_back(Err(std::string("the slurm provider does not upload code: `") + k +
                                           "` is not supported",
                                       {k}, "put the code under the provider's `shared_root` (mounted on every node) "
                                            "and refer to it from `command` or `setup`"));
    if (!c.contains("command") || c["command"].is_null())
      resp.diagnostics.push_back(Err("the slurm provider needs a `command` to run", {"command"}));
    if (req.kind == "training_job" && c.contains("nodes") && c["nodes"].is_number_integer() && c["nodes"].get<int64_t>() < 1)
      resp.diagnostics.push_back(Err("`nodes` must be at least 1", {"nodes"}));
  } else if (req.kind != "cluster" && req.kind != "datastore") {
    resp.diagnostics.push_back(Err("the slurm provider has no kind `" + req.kind + "`"));
  }
  return resp;
}

PlanResponse SlurmProvider::Plan(const PlanRequest& req) {
  if (req.kind == "cluster") return PlanCluster(req);
  if (req.kind == "training_job") return PlanJob(req);
  if (req.kind == "endpoint") return PlanEndpoint(req);
  PlanResponse resp;
  if (req.kind != "datastore") {
    resp.diagnostics.push_back(Err("the slurm provider has no kind `" + req.kind + "`"));
    return resp;
  }
  json planned = req.config.is_object() ? req.config : json::object();
  bool fresh = req.prior.is_null();
  if (!fresh) {
    for (const char* f : {"path", "type"})
      if (!SameValue(req.prior.value(f, json()), planned.value(f, json()))) resp.requires_replace.push_back({f});
    fresh = !resp.requires_replace.empty();
  }
  if (!fresh) {
    planned["id"] = req.prior.value("id", json());
    planned["uri"] = req.prior.value("uri", json());
  } else if (!IsUnknown(planned.value("path", json())) && !shared_root_.empty()) {
    std::string dir = DatastoreDir(req.address, planned.value("path", json()));
    planned["id"] = dir;
    planned["uri"] = "file://" + dir;
  } else {
    planned["id"] = Unknown();
    planned["uri"] = Unknown();
  }
  resp.planned = planned;
  return resp;
}

ApplyResponse SlurmProvider::Apply(const ApplyRequest& req) {
  t_apply_gen = cancel_gen_.load();
  ApplyResponse resp;
  if (ContainsUnknown(req.config)) {
    resp.diagnostics.push_back(Err("the configuration of " + req.address + " still has unknown values at apply time"));
    return resp;
  }
  if (req.kind == "datastore") return ApplyDatastore(req);
  if (!Ready(&resp.diagnostics)) return resp;
  if (req.kind == "cluster") return ApplyCluster(req);
  if (req.kind == "training_job") return ApplyJob(req);
  if (req.kind == "endpoint") return ApplyEndpoint(req);
  resp.diagnostics.push_back(Err("the slurm provider has no kind `" + req.kind + "`"));
  return resp;
}

ReadResponse SlurmProvider::Read(const ReadRequest& req) { return ReadOne(req, nullptr); }

ReadBatchResponse SlurmProvider::ReadBatch(const ReadBatchRequest& req) {
  ReadBatchResponse resp;
  // One GET /jobs answers every job and replica of the batch.
  std::optional<JobsSnapshot> jobs;
  for (const auto& r : req.reads) {
    if (r.kind == "training_job" || r.kind == "endpoint") {
      jobs = FetchJobs();
      break;
    }
  }
  if (jobs && !jobs->ok) {
    resp.diagnostics = jobs->diagnostics;
    for (size_t i = 0; i < req.reads.size(); ++i) resp.results.push_back({req.reads[i].state, {}});
    return resp;
  }
  for (const auto& r : req.reads) resp.results.push_back(ReadOne(r, jobs ? &*jobs : nullptr));
  return resp;
}

ReadResponse SlurmProvider::ReadOne(const ReadRequest& req, const JobsSnapshot* jobs) {
  if (req.kind == "training_job") return ReadJob(req, jobs);
  if (req.kind == "endpoint") return ReadEndpoint(req, jobs);
  ReadResponse resp;
  if (req.kind == "datastore") {
    json state = req.state.is_object() ? req.state : LoadRecord("datastore", req.address);
    std::string dir = Str(state, "id");
    std::error_code ec;
    if (!dir.empty() && fs::is_directory(dir, ec)) resp.state = state;
    return resp;
  }
  if (req.kind == "cluster") {
    json state = req.state.is_object() ? req.state : LoadRecord("cluster", req.address);
    if (!state.is_object()) return resp;
    const ClusterView* view = View(&resp.diagnostics);
    if (!view) return resp;
    const PartitionInfo* p = view->Partition(Str(state, "id"));
    if (!p) return resp;  // the partition is gone
    state["status"] = p->state == "UP" ? "ready" : p->state;
    for (auto& ch : state["status"].get_ref<std::string&>()) ch = static_cast<char>(std::tolower(ch));
    state["node_count"] = static_cast<int64_t>(view->NodesOf(p->name).size());
    resp.state = state;
    return resp;
  }
  resp.diagnostics.push_back(Err("the slurm provider has no kind `" + req.kind + "`"));
  return resp;
}

DeleteResponse SlurmProvider::Delete(const DeleteRequest& req) {
  DeleteResponse resp;
  std::error_code ec;
  if (req.kind == "datastore") return DeleteDatastore(req);
  if (req.kind == "cluster") {
    fs::remove(RecordPath("cluster", req.address), ec);  // binding only: Slurm is not changed
    return resp;
  }
  if (!Ready(&resp.diagnostics)) return resp;
  if (req.kind == "training_job") return DeleteJob(req);
  if (req.kind == "endpoint") return DeleteEndpoint(req);
  resp.diagnostics.push_back(Err("the slurm provider has no kind `" + req.kind + "`"));
  return resp;
}

ImportResponse SlurmProvider::Import(const ImportRequest& req) {
  ImportResponse resp;
  if (!Ready(&resp.diagnostics)) return resp;
  if (req.kind != "training_job") {
    resp.diagnostics.push_back(Err("the slurm provider imports training jobs (by Slurm job id), not " + req.kind));
    return resp;
  }
  int64_t id = std::atoll(req.id.c_str());
  json answer;
  std::vector<SlurmError> errors;
  if (!client_->Get(client_->api().JobPath(id), &answer, &errors, &resp.diagnostics)) return resp;
  std::vector<JobInfo> jobs;
  std::string error;
  if (!errors.empty() || !client_->api().ParseJobs(answer, &jobs, &error) || jobs.empty()) {
    resp.diagnostics.push_back(Err("no Slurm job with id `" + req.id + "`"));
    return resp;
  }
  json state = {{"id", req.id}, {"log", jobs[0].standard_output}, {"attempts", 1}};
  RefreshJob(&jobs[0], &state);
  resp.state = state;
  return resp;
}

InventoryResponse SlurmProvider::Inventory() {
  InventoryResponse resp;
  const ClusterView* view = View(&resp.diagnostics);
  if (!view) return resp;
  for (const auto& n : view->nodes) {
    InventoryNode node;
    node.name = n.name;
    std::map<std::string, InventoryGpu> by_model;
    for (const auto& g : n.gres) {
      if (g.name != "gpu") continue;
      std::string model = GresModel(g.type, *catalog_);
      auto& m = by_model[model];
      m.model = model;
      m.memory = catalog_->Memory(model);
      m.count += g.count;
      m.free += g.count;
    }
    for (const auto& g : n.gres_used) {
      if (g.name != "gpu") continue;
      auto it = by_model.find(GresModel(g.type, *catalog_));
      if (it != by_model.end()) it->second.free = std::max(0, it->second.free - g.count);
    }
    for (auto& [model, g] : by_model) node.gpus.push_back(g);
    resp.nodes.push_back(node);
  }
  return resp;
}

// ------------------------------------------------------------ clusters

PlanResponse SlurmProvider::PlanCluster(const PlanRequest& req) {
  PlanResponse resp;
  json planned = req.config.is_object() ? req.config : json::object();
  json part = planned.value("partition", json());
  if (!req.prior.is_null()) {
    for (const char* f : {"partition", "gpu", "nodes"})
      if (!SameValue(req.prior.value(f, json()), planned.value(f, json()))) resp.requires_replace.push_back({f});
  }
  bool fresh = req.prior.is_null() || !resp.requires_replace.empty();
  for (const char* f : {"id", "status", "node_count"})
    planned[f] = fresh ? Unknown() : req.prior.value(f, json());
  if (IsUnknown(part)) {
    resp.planned = planned;
    return resp;
  }
  std::string name = part.is_string() ? part.get<std::string>() : partition_;
  if (name.empty()) {
    resp.diagnostics.push_back(Err("cluster " + req.address + " needs a `partition` (or the provider's `partition`)",
                                   {"partition"}));
    return resp;
  }
  const ClusterView* view = View(&resp.diagnostics);
  if (!view) return resp;
  std::string error = CheckPartitionExists(*view, name);
  if (!error.empty()) {
    resp.diagnostics.push_back(Err(error, {"partition"}));
    return resp;
  }
  int64_t nodes_max = 1;
  json nodes = planned.value("nodes", json());
  if (nodes.is_number_integer()) nodes_max = nodes.get<int64_t>();
  else if (nodes.is_object()) nodes_max = Int(nodes, "max", Int(nodes, "min", 1));
  Request r;
  if (BuildRequest(req.address, planned, static_cast<int>(nodes_max), &r, &resp.diagnostics)) {
    error = CheckFit(*view, name, r, *catalog_);
    if (!error.empty()) resp.diagnostics.push_back(Err(error, {r.gpus_per_node > 0 ? "gpu" : "nodes"}));
  }
  error = CheckAccess(*view->Partition(name), account_, qos_);
  if (!error.empty()) resp.diagnostics.push_back(Err(error, {}, "set the provider's `account` / `qos` to ones the partition allows"));
  if (fresh) {
    planned["id"] = name;
    planned["status"] = "ready";
    planned["node_count"] = static_cast<int64_t>(view->NodesOf(name).size());
  }
  resp.planned = planned;
  return resp;
}

ApplyResponse SlurmProvider::ApplyCluster(const ApplyRequest& req) {
  ApplyResponse resp;
  // Binding validates; it does not change Slurm.
  PlanResponse p = PlanCluster({req.kind, req.address, nullptr, req.config});
  if (HasErrors(p.diagnostics)) {
    resp.diagnostics = p.diagnostics;
    return resp;
  }
  resp.state = p.planned;
  SaveRecord("cluster", req.address, resp.state);
  if (req.progress) req.progress("bound to partition " + Str(resp.state, "id"));
  return resp;
}

// ------------------------------------------------------------ datastores

std::string SlurmProvider::DatastoreDir(const std::string& address, const json& path) {
  std::string p = path.is_string() ? path.get<std::string>() : (shared_root_ / "datastores" / Slug(address)).string();
  return fs::path(p).lexically_normal().string();
}

json SlurmProvider::ResolveRef(const json& ref, const std::string& kind, const std::string& self_address) const {
  if (ref.is_object()) return IsUnknown(ref) ? json() : ref;
  if (!ref.is_string()) return json();
  std::string target = ref.get<std::string>();
  std::string prefix;
  for (const char* k : {".training_job.", ".endpoint.", ".cluster.", ".datastore."}) {
    size_t at = self_address.rfind(k);
    if (at != std::string::npos && at + 1 > prefix.size()) prefix = self_address.substr(0, at + 1);
  }
  for (const std::string& candidate : {prefix + target, target}) {
    json r = LoadRecord(kind, candidate);
    if (r.is_object()) return r;
  }
  return json();
}

std::string SlurmProvider::DatastoreDirOf(const json& ref, const std::string& self_address) const {
  json ds = ResolveRef(ref, "datastore", self_address);
  std::string p = Str(ds, "path");
  if (!p.empty()) return p;
  std::string uri = Str(ds, "uri");
  if (uri.rfind("file://", 0) == 0) return uri.substr(7);
  return Str(ds, "id");
}

ApplyResponse SlurmProvider::ApplyDatastore(const ApplyRequest& req) {
  ApplyResponse resp;
  if (shared_root_.empty()) {
    Ready(&resp.diagnostics);
    return resp;
  }
  std::string dir = DatastoreDir(req.address, req.config.value("path", json()));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    resp.diagnostics.push_back(Err("cannot create " + dir + ": " + ec.message(), {"path"}));
    return resp;
  }
  // Jobs run as the Slurm user, who must be able to write here.
  fs::permissions(dir, fs::perms::all, fs::perm_options::add, ec);
  std::ofstream(fs::path(dir) / ".kiln-address") << req.address << "\n";
  json state = req.config;
  state["id"] = dir;
  state["uri"] = "file://" + dir;
  SaveRecord("datastore", req.address, state);
  resp.state = state;
  return resp;
}

DeleteResponse SlurmProvider::DeleteDatastore(const DeleteRequest& req) {
  DeleteResponse resp;
  std::string path = Str(req.state, "id");
  std::error_code ec;
  if (!path.empty() && fs::is_directory(path, ec)) {
    bool has_data = false;
    for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().filename() != ".kiln-address") has_data = true;
    if (has_data && !Bool(req.state, "force_destroy")) {
      resp.diagnostics.push_back(Err("datastore " + path + " holds data; it is kept", {"force_destroy"},
                                     "set `force_destroy = true` (and apply) to delete it with its data"));
      return resp;
    }
    fs::remove_all(path, ec);
  }
  if (!shared_root_.empty()) fs::remove(RecordPath("datastore", req.address), ec);
  if (ec) resp.diagnostics.push_back(Err("could not remove everything of " + req.address + ": " + ec.message()));
  return resp;
}

// ------------------------------------------------------------ records

fs::path SlurmProvider::RecordPath(const std::string& kind, const std::string& address) const {
  return shared_root_ / ".kiln" / "records" / (kind + "-" + Slug(address) + ".json");
}

void SlurmProvider::SaveRecord(const std::string& kind, const std::string& address, const json& state) {
  json saved = state;
  if (saved.contains("secrets")) saved["secrets"] = json::object();  // never on disk in clear
  fs::path p = RecordPath(kind, address), tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json({{"address", address}, {"state", saved}}).dump(2);
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
}

json SlurmProvider::LoadRecord(const std::string& kind, const std::string& address) const {
  if (shared_root_.empty()) return json();
  std::ifstream in(RecordPath(kind, address));
  if (!in) return json();
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object() || Str(j, "address") != address) return json();
  return j.value("state", json());
}

}  // namespace slurm

std::unique_ptr<Provider> NewSlurmProvider() { return NewSlurmProvider(SlurmSeams{}); }

std::unique_ptr<Provider> NewSlurmProvider(SlurmSeams seams) {
  return std::make_unique<slurm::SlurmProvider>(std::move(seams));
}

}  // namespace kiln
