// Endpoints: replicas as detached processes, replica i on `port` + i (or a
// free port), each holding the GPU leases it was given; health-checked,
// restarted one at a time on a change.
#include <signal.h>

#include "providers/local/provider_impl.h"

namespace kiln::local {

namespace {
constexpr char kPortHelp[] =
    "replica i listens on `port` + i; choose another port, stop what listens there, or set "
    "`port = 0` to give each replica a free port";

// What, when changed, makes running replicas stale.
bool ReplicaSpecChanged(const json& prior, const json& config) {
  for (const char* k : {"command", "env", "secrets", "model", "port", "health_check"}) {
    json a = prior.contains(k) ? prior[k] : json(), b = config.contains(k) ? config[k] : json();
    if (!SameValue(a, b)) return true;
  }
  return false;
}
}  // namespace

std::vector<LocalProvider::Replica> LocalProvider::LoadReplicas(const fs::path& dir) {
  std::vector<Replica> out;
  json j = ReadJson(dir / "replicas.json");
  if (j.is_array())
    for (const auto& r : j) {
      Replica x{static_cast<int>(r.value("index", 0)), static_cast<pid_t>(r.value("pid", 0)),
                static_cast<int>(r.value("port", 0)), {}};
      for (const auto& g : r.value("gpus", json::array())) x.gpus.push_back(g.get<int>());
      out.push_back(x);
    }
  return out;
}

void LocalProvider::SaveReplicas(const fs::path& dir, const std::vector<Replica>& rs) {
  json j = json::array();
  for (const auto& r : rs) j.push_back({{"index", r.index}, {"pid", r.pid}, {"port", r.port}, {"gpus", r.gpus}});
  WriteText(dir / "replicas.json", j.dump(2));
}

void LocalProvider::PlanEndpoint(const PlanRequest& req, bool fresh, PlanResponse* resp) {
  json& planned = resp->planned;
  const json& prior = req.prior;
  if (fresh) {
    // A fixed port that something else holds now is an error at plan
    // time already (apply checks again before each replica starts).
    int64_t min = 1, max = 1;
    std::string error;
    if (ParseRange(planned.value("replicas", json()), 1, &min, &max) &&
        !CheckPorts(req.address, "", planned, static_cast<int>(min), &error))
      resp->diagnostics.push_back(Err("endpoint " + req.address + ": " + error, {"port"}, kPortHelp));
    return;
  }
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

bool LocalProvider::StartReplica(const ApplyRequest& req, const std::string& id, const fs::path& dir,
                                 const std::vector<int>& pool, int per, Replica* r, std::string* error) {
  const json& c = req.config;
  std::vector<std::string> command;
  if (!CommandArgv(c.value("command", json()), &command, error)) return false;
  std::string holder = req.address + " (endpoint " + id + ", replica " + std::to_string(r->index) + ")";
  Lease lease;
  if (!TakeGpus(root_, pool, per, holder, &lease)) {
    // A replaced object of the same endpoint (create-before-destroy on one
    // machine) gives its GPUs over, as it gives its ports.
    std::error_code ec;
    for (fs::directory_iterator it(root_ / "endpoints", ec), end; !ec && it != end; it.increment(ec)) {
      if (it->path().filename() == id || Trimmed(ReadText(it->path() / "address")) != req.address) continue;
      for (const Replica& o : LoadReplicas(it->path())) {
        if (o.gpus.empty() || !sys_->SessionAlive(o.pid)) continue;
        if (req.progress)
          req.progress("stopping the replaced object's replica " + std::to_string(o.index) + " to take its GPUs [" +
                       Join(o.gpus, ",") + "] over");
        StopSession(o.pid);
      }
    }
    if (!TakeGpus(root_, pool, per, holder, &lease)) {
      std::string held;
      for (int i : pool) {
        std::string who;
        if (GpuHeld(root_, i, &who)) held += (held.empty() ? "" : "; ") + std::to_string(i) + ": " + who;
      }
      *error = "replica " + std::to_string(r->index) + " needs " + std::to_string(per) + " free GPU(s) of [" +
               Join(pool, ",") + "] but they are in use" + (held.empty() ? "" : " (" + held + ")");
      return false;
    }
  }
  auto env = BaseEnv(c);
  env["PORT"] = std::to_string(r->port);
  env["KILN_REPLICA"] = std::to_string(r->index);
  env["CUDA_VISIBLE_DEVICES"] = Join(lease.indices, ",");
  if (c.contains("model") && c["model"].is_string()) env["KILN_MODEL"] = c["model"].get<std::string>();
  SpawnSpec spec;
  spec.argv = command;
  spec.env = env;
  spec.log_path = (dir / ("replica-" + std::to_string(r->index) + ".log")).string();
  spec.keep_fds = lease.fds;
  r->pid = sys_->SpawnDetached(spec, error);
  r->gpus = lease.indices;
  CloseLease(&lease);  // the replica holds them now
  return r->pid > 0;
}

bool LocalProvider::WaitHealthy(const json& c, const fs::path& dir, const Replica& r, const ApplyRequest& req,
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
      StopSession(r.pid);  // never healthy: nothing is left running
      *error = "replica " + std::to_string(r.index) + " did not answer GET " + url + " with 2xx within " +
               std::to_string(timeout / 1000) + "s" +
               (last_status > 0 ? " (last status " + std::to_string(last_status) + ")" : "") +
               "; it was stopped";
      return false;
    }
    if (req.progress && now - last_note >= 10000) {
      req.progress("waiting for replica " + std::to_string(r.index) + " to be healthy");
      last_note = now;
    }
    sys_->SleepMs(100);
  }
}

bool LocalProvider::PortOwner(int port, std::string* id, std::string* address, pid_t* pid) {
  std::error_code ec;
  for (fs::directory_iterator it(root_ / "endpoints", ec), end; !ec && it != end; it.increment(ec)) {
    for (const Replica& r : LoadReplicas(it->path())) {
      if (r.port != port || !sys_->Alive(r.pid)) continue;
      *id = it->path().filename().string();
      *address = Trimmed(ReadText(it->path() / "address"));
      *pid = r.pid;
      return true;
    }
  }
  return false;
}

std::string LocalProvider::PortProblem(const std::string& address, const std::string& id, int port, int replica) {
  if (sys_->PortFree(port)) return "";
  std::string owner_id, owner, what = "another process";
  pid_t pid = 0;
  if (PortOwner(port, &owner_id, &owner, &pid)) {
    if (owner == address && owner_id != id) return "";
    what = (owner == address ? "this endpoint's replica" : owner.empty() ? "an endpoint" : owner) + " (pid " +
           std::to_string(pid) + ")";
  }
  return "port " + std::to_string(port) + " (replica " + std::to_string(replica) + ") is in use by " + what;
}

bool LocalProvider::CheckPorts(const std::string& address, const std::string& id, const json& config,
                               int replicas, std::string* error) {
  int64_t base = Int(config, "port", 0);
  if (base <= 0) return true;
  for (int i = 0; i < replicas; ++i) {
    *error = PortProblem(address, id, static_cast<int>(base) + i, i);
    if (!error->empty()) return false;
  }
  return true;
}

bool LocalProvider::TakePort(const ApplyRequest& req, const std::string& id, int port, int replica,
                             std::string* error) {
  std::string owner_id, owner;
  pid_t pid = 0;
  if (!sys_->PortFree(port) && PortOwner(port, &owner_id, &owner, &pid) && owner == req.address &&
      owner_id != id) {
    if (req.progress)
      req.progress("stopping the replaced object's replica on port " + std::to_string(port) + " (pid " +
                   std::to_string(pid) + ") to take the port over");
    StopSession(pid);
    // The port is free once the old process is gone; the kernel may take a
    // moment to let go of the listening socket.
    for (int i = 0; i < 50 && !sys_->PortFree(port); ++i) sys_->SleepMs(20);
  }
  *error = PortProblem(req.address, id, port, replica);
  return error->empty();
}

ApplyResponse LocalProvider::ApplyEndpoint(const ApplyRequest& req) {
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
  std::vector<int> pool;
  int per = 0;
  if (!GpuPool(c, req.address, static_cast<int>(min), &pool, &per, &error)) {
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
    return WriteText(dir / "state.json", saved.dump(2));
  };
  if (create) {
    // Before any process starts: read with state null finds them by this.
    state["status"] = "starting";
    if (!save_state()) {
      fs::remove_all(dir, ec);
      resp.diagnostics.push_back(Err("cannot write endpoint " + req.address + " under " + dir.string() +
                                     " (is the disk full?)"));
      return resp;
    }
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
    if (!StartReplica(req, id, dir, pool, per, &r, &error) || !WaitHealthy(c, dir, r, req, &error)) {
      resp.diagnostics.push_back(Err("endpoint " + req.address + ": " + error));
      ok = false;
    }
    if (r.pid > 0) now.push_back(r);
    SaveReplicas(dir, now);  // after each replica: a crash here forgets none
    if (ok && req.progress)
      req.progress("replica " + std::to_string(i) + " ready on port " + std::to_string(r.port) +
                   (r.gpus.empty() ? "" : " with GPUs " + Join(r.gpus, ",")));
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

ReadResponse LocalProvider::ReadEndpoint(const ReadRequest& req) {
  ReadResponse resp;
  fs::path dir = req.state.is_object() ? root_ / "endpoints" / Str(req.state, "id")
                                       : FindByAddress("endpoints", req.address);
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) return resp;
  json state = req.state.is_object() ? req.state : ReadJson(dir / "state.json");
  int alive = 0, total = 0;
  for (const Replica& r : LoadReplicas(dir)) {
    ++total;
    if (sys_->Alive(r.pid)) ++alive;
  }
  if (alive < total) {
    // Dead replicas are drift: report fewer running replicas than
    // configured, so the next plan updates the endpoint, which restarts them.
    state["status"] = alive == 0 ? "failed" : "degraded";
    if (state["replicas"].is_object()) state["replicas"]["min"] = alive;
    else state["replicas"] = alive;
  }
  resp.state = state;
  return resp;
}

void LocalProvider::DeleteEndpoint(const DeleteRequest& req, DeleteResponse* resp) {
  fs::path dir = root_ / "endpoints" / Str(req.state, "id");
  for (const Replica& r : LoadReplicas(dir)) StopSession(r.pid);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) resp->diagnostics.push_back(Err("could not remove everything of " + req.address + ": " + ec.message()));
}

}  // namespace kiln::local
