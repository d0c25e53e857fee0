// endpoint: one long-running Slurm job per replica, each listening on
// `port` + its index on the node it landed on; ready when its health check
// answers 2xx. Changes roll through the replicas one at a time.
#include <algorithm>

#include "providers/slurm/provider_impl.h"
#include "providers/slurm/script.h"

namespace kiln::slurm {

namespace {

const char* kEndpointComputed[] = {"id", "url", "urls", "status", "job_ids"};

// What, when changed, makes running replicas stale.
bool ReplicaSpecChanged(const json& prior, const json& config) {
  for (const char* k : {"command", "env", "secrets", "model", "port", "health_check", "cpus", "memory"})
    if (!SameValue(prior.value(k, json()), config.value(k, json()))) return true;
  return false;
}

int64_t ReplicaCount(const json& replicas) {
  if (replicas.is_number_integer()) return replicas.get<int64_t>();
  if (replicas.is_object()) return Int(replicas, "min", 1);
  return 1;
}

}  // namespace

PlanResponse SlurmProvider::PlanEndpoint(const PlanRequest& req) {
  PlanResponse resp;
  const json& prior = req.prior;
  json planned = req.config.is_object() ? req.config : json::object();
  if (!prior.is_null()) {
    for (const char* f : {"cluster", "gpu", "image", "setup"})
      if (!SameValue(prior.value(f, json()), planned.value(f, json()))) resp.requires_replace.push_back({f});
  }
  bool fresh = prior.is_null() || !resp.requires_replace.empty();
  bool moving = !fresh && (ReplicaSpecChanged(prior, planned) ||
                           ReplicaCount(prior.value("replicas", json())) != ReplicaCount(planned.value("replicas", json())));
  for (const char* f : kEndpointComputed) planned[f] = fresh ? Unknown() : prior.value(f, json());
  if (moving) {
    for (const char* f : {"url", "urls", "status", "job_ids"}) planned[f] = Unknown();
  }
  if (fresh && !ContainsUnknown(req.config.value("gpu", json()))) CheckPlacement(req.address, req.config, 1, &resp.diagnostics);
  resp.planned = planned;
  return resp;
}

bool SlurmProvider::StartReplica(const ApplyRequest& req, int index, int port, int64_t* job_id, std::string* url,
                                 ProviderDiagnostics* diags) {
  const json& c = req.config;
  Request r;
  BuildRequest(req.address, c, 1, &r, diags);
  std::string partition = PartitionOf(c, req.address);
  std::string slug = Slug(req.address);
  ScriptSpec ss;
  ss.address = req.address;
  ss.command = c.value("command", json());
  ss.setup = c.value("setup", json());
  ss.gpus_per_node = r.gpus_per_node;
  JobSpec spec;
  std::string error;
  if (!BuildScript(ss, &spec.script, &error)) {
    diags->push_back(Err(error, {"command"}));
    return false;
  }
  spec.name = "kiln-" + slug.substr(0, slug.rfind('-')) + "-" + std::to_string(index);
  spec.partition = partition;
  spec.account = account_;
  spec.qos = qos_;
  spec.gres = GresFor(partition, r);
  spec.cpus_per_task = r.cpus_per_node;
  spec.memory_mb = (r.memory_per_node + 1024 * 1024 - 1) / (1024 * 1024);
  spec.comment = CommentPrefix(req.address) + " replica=" + std::to_string(index);
  spec.working_directory = shared_root_.string();
  spec.standard_output = (shared_root_ / "logs" / (slug + "-r" + std::to_string(index) + "-%j.out")).string();
  spec.environment = BaseEnv(c, req.address);
  spec.environment["PORT"] = std::to_string(port);
  spec.environment["KILN_REPLICA"] = std::to_string(index);
  if (c.contains("model") && c["model"].is_string()) spec.environment["KILN_MODEL"] = c["model"].get<std::string>();
  if (!Submit(spec, job_id, diags, req.progress)) return false;
  std::string log = spec.standard_output;
  log.replace(log.find("%j"), 2, std::to_string(*job_id));
  if (req.progress) req.progress("replica " + std::to_string(index) + ": submitted Slurm job " + std::to_string(*job_id));

  json hc = c.value("health_check", json::object());
  std::string path = Str(hc, "path", "/health");
  int64_t timeout = Int(hc, "timeout", 60000);
  const int64_t kPendingLimit = 600000;  // a replica that cannot start in 10 minutes fails the apply
  int64_t waited = 0, running_for = 0;
  std::string address;
  int last_status = 0;
  while (true) {
    if (Cancelled()) {
      CancelJob(*job_id, diags);
      diags->push_back(Err("cancelled while waiting for replica " + std::to_string(index) + "; its job was cancelled"));
      return false;
    }
    json answer;
    std::vector<SlurmError> errors;
    std::vector<JobInfo> jobs;
    if (!client_->Get(client_->api().JobPath(*job_id), &answer, &errors, diags)) return false;
    if (!client_->api().ParseJobs(answer, &jobs, &error) || jobs.empty()) {
      diags->push_back(Err("cannot read replica " + std::to_string(index) + "'s job " + std::to_string(*job_id)));
      return false;
    }
    const JobInfo& job = jobs[0];
    if (!JobAlive(job.state)) {
      diags->push_back(Err("replica " + std::to_string(index) + " (Slurm job " + std::to_string(*job_id) + ") ended (" +
                               job.state + ") before it was healthy",
                           {}, "last lines of " + log + ":\n" + LastLines(log, 10)));
      return false;
    }
    if (JobStatus(job.state) == "running" && !job.batch_host.empty()) {
      if (address.empty()) {
        address = job.batch_host;
        ProviderDiagnostics ignored;
        if (const ClusterView* view = View(&ignored))
          for (const auto& n : view->nodes)
            if (n.name == job.batch_host) address = n.address;
        *url = "http://" + address + ":" + std::to_string(port);
      }
      HttpRequest probe;
      probe.url = *url + path;
      probe.connect_timeout_ms = 1000;
      probe.timeout_ms = 2000;
      last_status = seams_.http->Send(probe).status;
      if (last_status >= 200 && last_status < 300) return true;
      if (running_for >= timeout) {
        CancelJob(*job_id, diags);
        diags->push_back(Err("replica " + std::to_string(index) + " did not answer GET " + probe.url + " with 2xx within " +
                                 std::to_string(timeout / 1000) + "s" +
                                 (last_status ? " (last status " + std::to_string(last_status) + ")" : "") +
                                 "; its job was cancelled",
                             {}, "last lines of " + log + ":\n" + LastLines(log, 10)));
        return false;
      }
      running_for += seams_.poll_ms;
    } else if (waited >= kPendingLimit) {
      CancelJob(*job_id, diags);
      diags->push_back(Err("replica " + std::to_string(index) + " (Slurm job " + std::to_string(*job_id) +
                           ") stayed pending for " + std::to_string(kPendingLimit / 60000) + " minutes (" + job.reason +
                           "); its job was cancelled"));
      return false;
    }
    Sleep(seams_.poll_ms);
    waited += seams_.poll_ms;
  }
}

bool SlurmProvider::WaitEnded(int64_t id, int64_t index, ProviderDiagnostics* diags) {
  const int64_t kLimit = 120000;
  for (int64_t waited = 0;; waited += seams_.poll_ms) {
    json answer;
    std::vector<SlurmError> errors;
    std::vector<JobInfo> jobs;
    std::string error;
    if (!client_->Get(client_->api().JobPath(id), &answer, &errors, diags)) return false;
    // A job Slurm no longer knows has ended too.
    if (!client_->api().ParseJobs(answer, &jobs, &error) || jobs.empty() || !JobAlive(jobs[0].state)) return true;
    if (waited >= kLimit || Cancelled()) {
      diags->push_back(Err("replica " + std::to_string(index) + "'s old Slurm job " + std::to_string(id) +
                           " was cancelled but is still " + jobs[0].state + " after " + std::to_string(kLimit / 1000) +
                           "s; its replacement was not started",
                           {}, "check the node with `scontrol show job " + std::to_string(id) + "`, then apply again"));
      return false;
    }
    Sleep(seams_.poll_ms);
  }
}

ApplyResponse SlurmProvider::ApplyEndpoint(const ApplyRequest& req) {
  ApplyResponse resp;
  const json& c = req.config;
  ValidateResponse v = Validate({req.kind, req.address, c});
  if (HasErrors(v.diagnostics)) {
    resp.diagnostics = v.diagnostics;
    return resp;
  }
  int64_t count = ReplicaCount(c.value("replicas", json()));
  if (count < 0) {
    resp.diagnostics.push_back(Err("`replicas` must be a range with min >= 0", {"replicas"}));
    return resp;
  }
  bool create = req.prior.is_null();
  bool stale = !create && ReplicaSpecChanged(req.prior, c);
  std::vector<int64_t> old_ids;
  std::vector<std::string> old_urls;
  if (!create) {
    for (const auto& id : req.prior.value("job_ids", json::array()))
      if (id.is_string()) old_ids.push_back(std::atoll(id.get<std::string>().c_str()));
    for (const auto& u : req.prior.value("urls", json::array()))
      if (u.is_string()) old_urls.push_back(u.get<std::string>());
  }
  // The live jobs: which replicas still run, and replicas whose submit
  // answer was lost (alive, carrying this endpoint's comment, recorded
  // nowhere), which are cancelled before their replica starts again.
  JobsSnapshot jobs = FetchJobs();
  if (!jobs.ok) {
    resp.diagnostics = jobs.diagnostics;
    resp.state = req.prior.is_null() ? json() : req.prior;
    return resp;
  }
  auto cancel_strays = [&](int64_t index) {
    std::string tag = "replica=" + std::to_string(index);
    for (const auto& j : jobs.jobs) {
      if (!JobAlive(j.state) || !CommentIsFor(j.comment, req.address)) continue;
      if ((" " + j.comment + " ").find(" " + tag + " ") == std::string::npos) continue;
      if (std::find(old_ids.begin(), old_ids.end(), j.id) != old_ids.end()) continue;
      if (req.progress) req.progress("cancelling Slurm job " + std::to_string(j.id) + ", a stray of replica " +
                                     std::to_string(index) + " whose submit answer was lost");
      CancelJob(j.id, &resp.diagnostics);
    }
  };
  json state = c;
  state["id"] = create ? json("kiln-" + Slug(req.address)) : req.prior.value("id", json("kiln-" + Slug(req.address)));
  std::vector<int64_t> ids;
  std::vector<std::string> urls;
  auto save = [&](const std::string& status) {
    json jids = json::array();
    for (auto id : ids) jids.push_back(std::to_string(id));
    state["job_ids"] = jids;
    state["urls"] = urls;
    state["url"] = urls.empty() ? std::string() : urls[0];
    state["status"] = status;
    SaveRecord("endpoint", req.address, state);
  };
  if (create) save("starting");
  bool ok = true;
  int64_t base = Int(c, "port", 8080);
  // Replicas one at a time: the others keep serving.
  int64_t i = 0;
  for (; i < count; ++i) {
    bool have = i < static_cast<int64_t>(old_ids.size());
    const JobInfo* job = have ? jobs.Find(old_ids[i]) : nullptr;
    bool alive = job && JobAlive(job->state);
    if (alive && !stale && i < static_cast<int64_t>(old_urls.size())) {
      ids.push_back(old_ids[i]);
      urls.push_back(old_urls[i]);
      continue;
    }
    if (alive) {
      if (req.progress) req.progress("replacing replica " + std::to_string(i));
      // Its successor takes the same port, possibly on the same node: it
      // starts once the old job's processes are gone.
      ok = CancelJob(old_ids[i], &resp.diagnostics) && WaitEnded(old_ids[i], i, &resp.diagnostics);
      if (!ok) break;
    }
    cancel_strays(i);
    int64_t id = 0;
    std::string url;
    ok = StartReplica(req, static_cast<int>(i), static_cast<int>(base + i), &id, &url, &resp.diagnostics);
    if (id > 0 && ok) {
      ids.push_back(id);
      urls.push_back(url);
    }
    save(ok ? "starting" : "failed");
    if (!ok) break;
    if (req.progress) req.progress("replica " + std::to_string(i) + " ready at " + url);
  }
  if (!ok) {
    // A replica failed: the ones not reached yet keep serving and stay
    // recorded, and the recorded spec stays the old one, so that the next
    // plan rolls the endpoint again. Positions are replica indexes: the
    // failed one is recorded as no job.
    if (i < count) {
      ids.push_back(0);
      urls.push_back("");
    }
    for (int64_t j = i + 1; j < count && j < static_cast<int64_t>(old_ids.size()); ++j) {
      const JobInfo* job = jobs.Find(old_ids[j]);
      bool serving = job && JobAlive(job->state) && j < static_cast<int64_t>(old_urls.size());
      ids.push_back(serving ? old_ids[j] : 0);
      urls.push_back(serving ? old_urls[j] : "");
    }
    if (stale)
      for (const char* k : {"command", "env", "secrets", "model", "port", "health_check", "cpus", "memory"}) {
        if (req.prior.contains(k)) state[k] = req.prior[k];
        else state.erase(k);
      }
  } else {
    for (size_t j = static_cast<size_t>(std::max<int64_t>(count, 0)); j < old_ids.size(); ++j)
      CancelJob(old_ids[j], &resp.diagnostics);
  }
  save(ok ? "ready" : "failed");
  resp.state = state;
  return resp;
}

ReadResponse SlurmProvider::ReadEndpoint(const ReadRequest& req, const JobsSnapshot* jobs) {
  ReadResponse resp;
  JobsSnapshot fetched;
  if (!jobs) {
    fetched = FetchJobs();
    if (!fetched.ok) {
      resp.diagnostics = fetched.diagnostics;
      return resp;
    }
    jobs = &fetched;
  }
  json state = req.state;
  if (!state.is_object()) {
    // An interrupted create: its record, if one of its replicas exists.
    if (!jobs->FindByComment(req.address)) return resp;
    state = LoadRecord("endpoint", req.address);
    if (!state.is_object()) return resp;
  }
  int alive = 0, total = 0;
  for (const auto& id : state.value("job_ids", json::array())) {
    ++total;
    const JobInfo* job = id.is_string() ? jobs->Find(std::atoll(id.get<std::string>().c_str())) : nullptr;
    if (job && JobAlive(job->state)) ++alive;
  }
  if (alive < total) {
    // Ended replicas are drift: fewer replicas than configured, so the
    // next plan updates the endpoint, which starts them again.
    state["status"] = alive == 0 ? "failed" : "degraded";
    if (state["replicas"].is_object()) state["replicas"]["min"] = alive;
    else state["replicas"] = alive;
  }
  resp.state = state;
  return resp;
}

DeleteResponse SlurmProvider::DeleteEndpoint(const DeleteRequest& req) {
  DeleteResponse resp;
  for (const auto& id : req.state.value("job_ids", json::array()))
    if (id.is_string()) CancelJob(std::atoll(id.get<std::string>().c_str()), &resp.diagnostics);
  if (!HasErrors(resp.diagnostics)) {
    std::error_code ec;
    std::filesystem::remove(RecordPath("endpoint", req.address), ec);
  }
  return resp;
}

}  // namespace kiln::slurm
