// Training jobs: ROOT/jobs/<id>/ holds what to run (spec.json), the log
// and, once it ended, result.json. Jobs go through the queue (jobs.h): a
// job whose GPUs are not free now waits (`pending`), and a supervisor runs
// it once they are, with no kiln process needed.
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <sstream>

#include "providers/local/jobs.h"
#include "providers/local/provider_impl.h"

namespace kiln::local {

namespace {

std::string EnvName(const std::string& name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) ? std::toupper(c) : '_';
  return out;
}

// Whether argv[0] can be run: a path that is executable, or a name on PATH.
bool Runnable(const std::string& program) {
  if (program.find('/') != std::string::npos) return access(program.c_str(), X_OK) == 0;
  const char* env_path = std::getenv("PATH");
  std::stringstream ss(env_path ? env_path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':'))
    if (access(((dir.empty() ? "." : dir) + "/" + program).c_str(), X_OK) == 0) return true;
  return false;
}

int JobNodes(const json& c) { return static_cast<int>(std::max<int64_t>(1, Int(c, "nodes", 1))); }

// How a job that did not succeed ended, for messages.
std::string HowItEnded(const json& state, const JobStatus& s) {
  std::string how;
  if (s.reason == "max_runtime") how = "it ran longer than max_runtime and was stopped";
  else if (s.reason == "stopped") how = "it was stopped";
  else if (state["exit_code"].is_number()) how = "exit status " + std::to_string(state["exit_code"].get<int>());
  else if (s.reason.rfind("cannot start", 0) == 0) how = s.reason;
  else how = "it was killed";
  if (s.attempts > 1) how += ", after " + std::to_string(s.attempts) + " attempts";
  return how;
}

}  // namespace

fs::path LocalProvider::JobDir(const std::string& id) const { return id.empty() ? fs::path() : root_ / "jobs" / id; }

void LocalProvider::PlanJob(const PlanRequest& req, PlanResponse* resp) {
  const json& prior = req.prior;
  if (prior.is_object() && resp->requires_replace.empty()) {
    std::string status = Str(prior, "status");
    if (status == "failed" || status == "cancelled") {
      // Failed after apply: run it again.
      resp->replace_reason = "failed";
      fs::path dir = JobDir(Str(prior, "id"));
      JobStatus s = ReadJobStatus(dir, *sys_);
      std::string log = Str(prior, "log", (dir / "log").string());
      std::string tail = LastLines(log, 10);
      resp->diagnostics.push_back(Warn("training job failed after apply (" + HowItEnded(prior, s) + ")", {},
                                       tail.empty() ? "" : "last lines of " + log + ":\n" + tail));
    }
  }
  bool fresh = prior.is_null() || !resp->requires_replace.empty() || !resp->replace_reason.empty();
  if (!fresh) return;
  // A job that can never fit is an error now (the whole plan's fit is
  // CheckPlan's; this sees clusters that exist already).
  const json& c = req.config;
  json cluster = c.value("cluster", json());
  if (ContainsUnknown(c.value("gpu", json())) || ContainsUnknown(c.value("nodes", json())) || IsUnknown(cluster) ||
      (cluster.is_object() && ContainsUnknown(cluster.value("gpu_indices", json()))) ||
      (cluster.is_string() && !ResolveRef(cluster, "clusters", req.address).is_object()))
    return;  // a cluster created by this plan: CheckPlan sees it
  std::vector<int> pool;
  int per = 0;
  std::string error;
  if (!GpuPool(c, req.address, JobNodes(c), &pool, &per, &error))
    resp->diagnostics.push_back(Err("training job " + error + ", so it could never start", {"gpu"}));
}

void LocalProvider::RefreshJob(const fs::path& dir, json* state) {
  JobStatus s = ReadJobStatus(dir, *sys_);
  (*state)["status"] = s.status;
  (*state)["exit_code"] = s.exit_code;
}

ApplyResponse LocalProvider::ApplyJob(const ApplyRequest& req) {
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
  if (!Runnable(command[0])) {
    resp.diagnostics.push_back(Err("training job " + req.address + ": the command `" + command[0] +
                                       "` does not exist (not a runnable file, not found on PATH)",
                                   {"command"}));
    return resp;
  }
  int nodes = JobNodes(c);
  std::vector<int> pool;
  int per = 0;
  if (!GpuPool(c, req.address, nodes, &pool, &per, &error)) {
    resp.diagnostics.push_back(Err("training job " + error + ", so it could never start", {"gpu"}));
    return resp;
  }
  std::string id = NewId(req.address);
  fs::path dir = JobDir(id);
  std::error_code ec;
  fs::create_directories(dir, ec);
  // The spec holds the secrets the job needs when it starts later: only
  // the user may read the job's directory.
  fs::permissions(dir, fs::perms::owner_all, ec);
  // The address first: an interrupted create is found again by it.
  WriteText(dir / "address", req.address + "\n");

  auto env = BaseEnv(c);
  env["KILN_JOB_ID"] = id;
  std::string output = (dir / "output").string();
  if (c.contains("output") && !c["output"].is_null()) {
    output = DatastoreDirOf(c["output"], req.address);
    if (output.empty()) {
      resp.diagnostics.push_back(Err("cannot find the output datastore of " + req.address +
                                         " among this provider's datastores",
                                     {"output"}));
      fs::remove_all(dir, ec);
      return resp;
    }
  }
  fs::create_directories(output, ec);
  env["KILN_OUTPUT"] = output;
  if (c.contains("inputs") && c["inputs"].is_object())
    for (const auto& [name, ds] : c["inputs"].items())
      env["KILN_INPUT_" + EnvName(name)] = DatastoreDirOf(ds, req.address);

  json spec = {{"address", req.address}, {"id", id},       {"argv", command},
               {"env", env},             {"nodes", nodes}, {"gpus_per_node", per},
               {"pool", pool},           {"retries", std::max<int64_t>(0, Int(c, "retries", 0))},
               {"max_runtime_ms", Int(c, "max_runtime", 0)}};
  json state = c;
  state["id"] = id;
  state["status"] = "pending";
  state["exit_code"] = nullptr;
  state["checkpoint"] = "file://" + output;
  state["log"] = (dir / "log").string();
  json saved = state;
  if (saved.contains("secrets")) saved["secrets"] = json::object();  // only spec.json has them
  if (!WriteText(dir / "spec.json", spec.dump(2)) || !WriteText(dir / "state.json", saved.dump(2)) ||
      !Enqueue(root_, id, *sys_)) {
    fs::remove_all(dir, ec);
    Dequeue(root_, id);
    resp.diagnostics.push_back(Err("cannot write training job " + req.address + " under " + dir.string() +
                                   " (is the disk full?)"));
    return resp;
  }
  Dispatch(root_, *sys_);
  RefreshJob(dir, &state);
  if (req.progress) {
    if (state["status"] == "pending") {
      req.progress("queued (position " + std::to_string(QueuePosition(root_, id)) + "): waiting for " +
                   std::to_string(per * nodes) + " free GPU(s); it starts when they free up, log " +
                   (dir / "log").string());
    } else {
      std::string gpus = Join([&] {
        std::vector<int> v;
        for (const auto& g : ReadJson(dir / "gpus.json")) v.push_back(g.get<int>());
        return v;
      }(), ",");
      req.progress("started" + (gpus.empty() ? "" : " on GPUs " + gpus) + ", log " + (dir / "log").string());
    }
  }
  if (state["status"] == "failed") {
    JobStatus s = ReadJobStatus(dir, *sys_);
    if (s.reason.rfind("cannot start", 0) == 0) {
      resp.diagnostics.push_back(Err("cannot start training job " + req.address + ": " + s.reason));
      fs::remove_all(dir, ec);
      return resp;
    }
  }
  if (Bool(c, "wait")) WaitForJob(req, dir, &state, &resp.diagnostics);
  resp.state = state;
  return resp;
}

void LocalProvider::WaitForJob(const ApplyRequest& req, const fs::path& dir, json* state,
                               ProviderDiagnostics* diags) {
  int64_t start = sys_->NowMs(), last_note = start, last_dispatch = start;
  RefreshJob(dir, state);
  while ((*state)["status"] == "running" || (*state)["status"] == "pending") {
    if (Cancelled()) {
      // The job itself keeps running (it is recorded, tainted); only
      // kiln's wait for it is aborted.
      diags->push_back(Err("cancelled while waiting for training job " + req.address +
                           " to finish; the job keeps running"));
      return;
    }
    sys_->SleepMs(100);
    int64_t now = sys_->NowMs();
    if ((*state)["status"] == "pending" && now - last_dispatch >= 1000) {
      Dispatch(root_, *sys_);  // in case the supervisors that would start it were killed
      last_dispatch = now;
    }
    RefreshJob(dir, state);
    if (req.progress && now - last_note >= 10000) {
      req.progress((*state)["status"].get<std::string>() + " (" + std::to_string((now - start) / 1000) +
                   "s elapsed)");
      last_note = now;
    }
  }
  if ((*state)["status"] == "succeeded") return;
  JobStatus s = ReadJobStatus(dir, *sys_);
  diags->push_back(Err("training job " + req.address + " failed (" + HowItEnded(*state, s) + ")", {},
                       "last lines of " + (dir / "log").string() + ":\n" + LastLines(dir / "log", 10)));
}

ReadResponse LocalProvider::ReadJob(const ReadRequest& req) {
  ReadResponse resp;
  fs::path dir = req.state.is_object() ? JobDir(Str(req.state, "id")) : FindByAddress("jobs", req.address);
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) return resp;
  json state = req.state.is_object() ? req.state : ReadJson(dir / "state.json");
  RefreshJob(dir, &state);
  if (state["status"] == "pending") {
    Dispatch(root_, *sys_);  // a queue whose supervisors were killed moves on at the next kiln run
    RefreshJob(dir, &state);
  }
  resp.state = state;
  resp.progress = true;  // pending -> running -> succeeded is the job's own progress
  return resp;
}

void LocalProvider::DeleteJob(const DeleteRequest& req, DeleteResponse* resp) {
  std::string id = Str(req.state, "id");
  fs::path dir = JobDir(id);
  if (dir.empty()) return;
  std::error_code ec;
  Dequeue(root_, id);
  WriteText(dir / "cancelled", "");
  std::string pid_text = ReadText(dir / "pid");
  pid_t pid = pid_text.empty() ? 0 : static_cast<pid_t>(std::atol(pid_text.c_str()));
  StopSession(pid);
  fs::remove_all(dir, ec);
  if (ec) resp->diagnostics.push_back(Err("could not remove " + dir.string() + ": " + ec.message()));
  Dispatch(root_, *sys_);  // its GPUs are free: the queue moves on
}

}  // namespace kiln::local
