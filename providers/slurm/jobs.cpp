// training_job: one Slurm batch job (N nodes through srun), resubmitted up
// to `retries` times when it fails.
#include <fstream>

#include "providers/slurm/provider_impl.h"
#include "providers/slurm/script.h"

namespace kiln::slurm {

namespace fs = std::filesystem;

namespace {

std::string EnvName(const std::string& name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
  return out;
}

const char* kJobComputed[] = {"id", "status", "checkpoint", "exit_code", "log", "attempts"};

bool IsComputed(const std::string& k) {
  for (const char* c : kJobComputed)
    if (k == c) return true;
  return false;
}

}  // namespace

std::map<std::string, std::string> SlurmProvider::BaseEnv(const json& config, const std::string& address) {
  // Always a PATH: a job submitted through slurmrestd has no login
  // environment of its own.
  std::map<std::string, std::string> env = {{"PATH", job_path_}, {"KILN_ADDRESS", address}};
  for (const char* key : {"env", "secrets"}) {
    json m = config.value(key, json::object());
    if (!m.is_object()) continue;
    for (const auto& [k, v] : m.items()) env[k] = v.is_string() ? v.get<std::string>() : v.dump();
  }
  return env;
}

PlanResponse SlurmProvider::PlanJob(const PlanRequest& req) {
  PlanResponse resp;
  const json& prior = req.prior;
  json planned = req.config.is_object() ? req.config : json::object();
  if (!prior.is_null()) {
    // A job cannot change while it runs: everything but `wait` and
    // `retries` replaces it.
    for (const auto& [k, v] : planned.items())
      if (k != "wait" && k != "retries" && !IsComputed(k) && !SameValue(prior.value(k, json()), v))
        resp.requires_replace.push_back({k});
  }
  bool fresh = prior.is_null() || !resp.requires_replace.empty();
  // A failed job with retries left is submitted again (an in-place update).
  bool retry = !fresh && Str(prior, "status") == "failed" &&
               Int(prior, "attempts", 1) <= Int(planned, "retries", 0);
  for (const char* f : kJobComputed) planned[f] = fresh || retry ? Unknown() : prior.value(f, json());
  if (fresh) {
    json nodes = req.config.value("nodes", json(1));
    if (!IsUnknown(nodes) && !ContainsUnknown(req.config.value("gpu", json())))
      CheckPlacement(req.address, req.config, nodes.is_number_integer() ? nodes.get<int>() : 1, &resp.diagnostics);
  }
  resp.planned = planned;
  return resp;
}

bool SlurmProvider::SubmitJob(const ApplyRequest& req, json* state, ProviderDiagnostics* diags, bool* uncertain) {
  if (uncertain) *uncertain = false;
  const json& c = req.config;
  int nodes = static_cast<int>(Int(c, "nodes", 1));
  Request r;
  BuildRequest(req.address, c, nodes, &r, diags);
  std::string partition = PartitionOf(c, req.address);
  std::string slug = Slug(req.address);
  std::error_code ec;
  std::string output = (shared_root_ / "jobs" / slug / "output").string();
  if (c.contains("output") && !c["output"].is_null()) {
    output = DatastoreDirOf(c["output"], req.address);
    if (output.empty()) {
      diags->push_back(Err("cannot tell the directory of the output datastore of " + req.address, {"output"}));
      return false;
    }
  }
  fs::create_directories(output, ec);
  fs::permissions(output, fs::perms::all, fs::perm_options::add, ec);  // the job user writes here

  ScriptSpec ss;
  ss.address = req.address;
  ss.command = c.value("command", json());
  ss.setup = c.value("setup", json());
  ss.nodes = nodes;
  ss.gpus_per_node = r.gpus_per_node;
  JobSpec spec;
  std::string error;
  if (!BuildScript(ss, &spec.script, &error)) {
    diags->push_back(Err(error, {"command"}));
    return false;
  }
  spec.name = "kiln-" + slug.substr(0, slug.rfind('-'));
  spec.partition = partition;
  spec.account = account_;
  spec.qos = qos_;
  spec.nodes = nodes;
  spec.gres = GresFor(partition, r);
  spec.cpus_per_task = r.cpus_per_node;
  spec.memory_mb = (r.memory_per_node + 1024 * 1024 - 1) / (1024 * 1024);
  int64_t max_runtime = Int(c, "max_runtime", 0);
  if (max_runtime > 0) spec.time_limit_minutes = (max_runtime + 59999) / 60000;
  spec.comment = CommentPrefix(req.address);
  spec.working_directory = output;
  spec.standard_output = (shared_root_ / "logs" / (slug + "-%j.out")).string();
  spec.environment = BaseEnv(c, req.address);
  spec.environment["KILN_OUTPUT"] = output;
  if (c.contains("inputs") && c["inputs"].is_object())
    for (const auto& [name, ds] : c["inputs"].items()) spec.environment["KILN_INPUT_" + EnvName(name)] = DatastoreDirOf(ds, req.address);

  (*state)["checkpoint"] = "file://" + output;
  (*state)["status"] = "pending";
  (*state)["exit_code"] = nullptr;
  // Before the submit: an interrupted create is adopted with this.
  SaveRecord("training_job", req.address, *state);
  int64_t id = 0;
  if (!Submit(spec, &id, diags, req.progress, uncertain)) return false;
  (*state)["id"] = std::to_string(id);
  (*state)["attempts"] = Int(*state, "attempts", 0) + 1;
  std::string log = spec.standard_output;
  log.replace(log.find("%j"), 2, std::to_string(id));
  (*state)["log"] = log;
  SaveRecord("training_job", req.address, *state);
  if (req.progress) req.progress("submitted Slurm job " + std::to_string(id) + " to partition " + partition);
  return true;
}

void SlurmProvider::RefreshJob(const JobInfo* job, json* state) {
  if (!job) return;
  (*state)["status"] = JobStatus(job->state);
  (*state)["exit_code"] = ExitCode(*job);
}

ApplyResponse SlurmProvider::ApplyJob(const ApplyRequest& req) {
  ApplyResponse resp;
  const json& c = req.config;
  json state;
  if (!req.prior.is_null()) {
    // In place: `wait`, `retries`, or a retry of a failed job.
    state = req.prior;
    state["wait"] = c.value("wait", false);
    state["retries"] = c.value("retries", 0);
    ReadResponse now = ReadJob({req.kind, req.address, state}, nullptr);
    if (HasErrors(now.diagnostics)) {
      resp.diagnostics = now.diagnostics;
      resp.state = req.prior;
      return resp;
    }
    if (now.state.is_object()) state = now.state;
    if (Str(state, "status") == "failed" && Int(state, "attempts", 1) <= Int(c, "retries", 0)) {
      if (req.progress) req.progress("job " + Str(state, "id") + " failed; submitting it again");
      if (!SubmitJob(req, &state, &resp.diagnostics)) {
        resp.state = req.prior;
        return resp;
      }
    }
  } else {
    ValidateResponse v = Validate({req.kind, req.address, c});
    if (HasErrors(v.diagnostics)) {
      resp.diagnostics = v.diagnostics;
      return resp;
    }
    state = c;
    state["attempts"] = 0;
    bool uncertain = false;
    if (!SubmitJob(req, &state, &resp.diagnostics, &uncertain)) {
      // The job may exist: recorded without an id (kiln taints it), so
      // that the next refresh looks it up by its comment.
      if (uncertain) {
        state["id"] = "";
        resp.state = state;
      }
      return resp;
    }
  }
  if (Bool(c, "wait")) WaitForJob(req, &state, &resp.diagnostics);
  resp.state = state;
  return resp;
}

void SlurmProvider::WaitForJob(const ApplyRequest& req, json* state, ProviderDiagnostics* diags) {
  int64_t waited = 0, last_note = 0;
  while (true) {
    std::string status = Str(*state, "status");
    if (status == "succeeded") return;
    if (status == "failed" && Int(*state, "attempts", 1) <= Int(req.config, "retries", 0)) {
      if (req.progress)
        req.progress("job " + Str(*state, "id") + " failed; submitting it again (attempt " +
                     std::to_string(Int(*state, "attempts", 1) + 1) + ")");
      if (!SubmitJob(req, state, diags)) return;
      continue;
    }
    if (status == "failed" || status == "cancelled") {
      std::string how = status == "cancelled" ? "was cancelled"
                                              : "failed (exit status " + (*state)["exit_code"].dump() + ")";
      diags->push_back(Err("training job " + req.address + " (Slurm job " + Str(*state, "id") + ") " + how, {},
                           "last lines of " + Str(*state, "log") + ":\n" + LastLines(Str(*state, "log"), 10)));
      return;
    }
    if (Cancelled()) {
      diags->push_back(Err("cancelled while waiting for training job " + req.address + " to finish; Slurm job " +
                           Str(*state, "id") + " keeps running"));
      return;
    }
    Sleep(seams_.poll_ms);
    waited += seams_.poll_ms;
    ReadResponse now = ReadJob({req.kind, req.address, *state}, nullptr);
    if (HasErrors(now.diagnostics)) {
      diags->insert(diags->end(), now.diagnostics.begin(), now.diagnostics.end());
      return;
    }
    if (now.state.is_object()) *state = now.state;
    if (req.progress && waited - last_note >= 10000) {
      req.progress(Str(*state, "status") + " (" + std::to_string(waited / 1000) + "s)");
      last_note = waited;
    }
  }
}

ReadResponse SlurmProvider::ReadJob(const ReadRequest& req, const JobsSnapshot* jobs) {
  ReadResponse resp;
  if (!Ready(&resp.diagnostics)) return resp;
  json state = req.state;
  // A submit whose answer was lost while Slurm could not be asked: no id,
  // never counted as an attempt.
  bool undecided = state.is_object() && Str(state, "id").empty() && Int(state, "attempts", 1) == 0;
  if (!state.is_object() || undecided) {
    // An interrupted create: the newest job with this address's comment.
    JobsSnapshot fetched;
    if (!jobs) {
      fetched = FetchJobs();
      if (!fetched.ok) {
        resp.diagnostics = fetched.diagnostics;
        return resp;
      }
      jobs = &fetched;
    }
    const JobInfo* job = jobs->FindByComment(req.address);
    if (!job) return resp;
    if (!undecided) state = LoadRecord("training_job", req.address);
    if (!state.is_object()) state = json::object();
    state["id"] = std::to_string(job->id);
    if (!job->standard_output.empty()) state["log"] = job->standard_output;
    if (!state.contains("attempts") || !state["attempts"].is_number() || state["attempts"] == 0) state["attempts"] = 1;
    RefreshJob(job, &state);
    resp.state = state;
    return resp;
  }
  int64_t id = std::atoll(Str(state, "id").c_str());
  if (id <= 0) return resp;  // never submitted
  if (jobs) {
    // A job the controller no longer lists (older than MinJobAge) keeps
    // its last recorded status.
    RefreshJob(jobs->Find(id), &state);
    resp.state = state;
    return resp;
  }
  json answer;
  std::vector<SlurmError> errors;
  if (!client_->Get(client_->api().JobPath(id), &answer, &errors, &resp.diagnostics)) return resp;
  std::vector<JobInfo> found;
  std::string error;
  bool forgotten = false;
  for (const auto& e : errors) {
    if (e.code == 2017 || e.message.find("Invalid job id") != std::string::npos) forgotten = true;
  }
  if (!errors.empty() && !forgotten) {
    resp.diagnostics = SlurmDiagnostics("reading job " + std::to_string(id), errors);
    return resp;
  }
  if (!forgotten && !client_->api().ParseJobs(answer, &found, &error)) {
    resp.diagnostics.push_back(Err("slurmrestd answered GET job " + std::to_string(id) + " with malformed JSON: " + error));
    return resp;
  }
  RefreshJob(found.empty() ? nullptr : &found[0], &state);
  resp.state = state;
  return resp;
}

DeleteResponse SlurmProvider::DeleteJob(const DeleteRequest& req) {
  DeleteResponse resp;
  int64_t id = std::atoll(Str(req.state, "id").c_str());
  if (id > 0) CancelJob(id, &resp.diagnostics);
  if (!HasErrors(resp.diagnostics)) {
    std::error_code ec;
    fs::remove(RecordPath("training_job", req.address), ec);
  }
  return resp;
}

}  // namespace kiln::slurm
