// Endpoints: a proxy (proxy.h, `kiln __local-proxy`) on the endpoint's
// `url` in front of replicas as detached processes on free ports, each
// holding the GPU leases it was given; health-checked; updated one replica
// at a time (start the new one, health-check it, switch the proxy over,
// drain the old one, stop it), so no request the proxy accepted is lost.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>

#include "providers/local/jobs.h"
#include "providers/local/proxy.h"
#include "providers/local/provider_impl.h"

namespace kiln::local {

namespace {
constexpr char kPortHelp[] =
    "the endpoint's proxy listens on `port`; choose another port, stop what listens there, or set "
    "`port = 0` to give the proxy a free port";

// What, when changed, makes running replicas stale.
bool ReplicaSpecChanged(const json& prior, const json& config) {
  for (const char* k : {"command", "env", "secrets", "model", "health_check"}) {
    json a = prior.contains(k) ? prior[k] : json(), b = config.contains(k) ? config[k] : json();
    if (!SameValue(a, b)) return true;
  }
  return false;
}

// The canary's weight when it has replicas to run (0: none).
int CanaryWeight(const json& c) {
  json canary = c.value("canary", json());
  if (!canary.is_object()) return 0;
  return static_cast<int>(std::clamp<int64_t>(Int(canary, "weight", 0), 0, 100));
}

// How many stable and canary replicas run for `replicas.min` = min: the
// canary replica is one of them when min >= 2 (the stable set keeps at
// least one), else one more.
void Tracks(const json& c, int64_t min, int* stable, int* canary) {
  *canary = CanaryWeight(c) > 0 ? 1 : 0;
  *stable = static_cast<int>(min >= 2 ? min - *canary : min);
}

std::string CanaryModel(const json& c) {
  json canary = c.value("canary", json());
  return canary.is_object() ? Str(canary, "model") : "";
}

pid_t ProxyPid(const fs::path& dir) {
  std::string s = Trimmed(ReadText(dir / "proxy.pid"));
  try {
    return s.empty() ? 0 : static_cast<pid_t>(std::stol(s));
  } catch (...) {
    return 0;
  }
}

std::string Url(int port) { return "http://127.0.0.1:" + std::to_string(port); }
}  // namespace

std::string LocalProvider::ReplicaName(const Replica& r) {
  return (r.track == "canary" ? "canary replica " : "replica ") + std::to_string(r.index);
}

std::string LocalProvider::LogName(const Replica& r) {
  return (r.track == "canary" ? "canary-" : "replica-") + std::to_string(r.index) + ".log";
}

std::vector<LocalProvider::Replica> LocalProvider::LoadReplicas(const fs::path& dir) {
  std::vector<Replica> out;
  json j = ReadJson(dir / "replicas.json");
  if (j.is_array())
    for (const auto& r : j) {
      Replica x;
      x.index = static_cast<int>(r.value("index", 0));
      x.pid = static_cast<pid_t>(r.value("pid", 0));
      x.port = static_cast<int>(r.value("port", 0));
      x.track = Str(r, "track", "stable");
      for (const auto& g : r.value("gpus", json::array())) x.gpus.push_back(g.get<int>());
      out.push_back(x);
    }
  return out;
}

void LocalProvider::SaveReplicas(const fs::path& dir, const std::vector<Replica>& replicas) {
  // Stable replicas first, each track by index.
  std::vector<Replica> rs = replicas;
  std::sort(rs.begin(), rs.end(), [](const Replica& a, const Replica& b) {
    return a.track != b.track ? a.track == "stable" : a.index < b.index;
  });
  json j = json::array();
  for (const auto& r : rs)
    j.push_back({{"index", r.index}, {"pid", r.pid}, {"port", r.port}, {"gpus", r.gpus}, {"track", r.track}});
  WriteText(dir / "replicas.json", j.dump(2));
}

void LocalProvider::PlanEndpoint(const PlanRequest& req, bool fresh, PlanResponse* resp) {
  json& planned = resp->planned;
  const json& prior = req.prior;
  if (fresh) {
    // A fixed port that something else holds now is an error at plan
    // time already (apply checks again before the proxy starts).
    std::string error;
    if (!CheckPorts(req.address, "", planned, 1, &error))
      resp->diagnostics.push_back(Err("endpoint " + req.address + ": " + error, {"port"}, kPortHelp));
    int64_t port = Int(planned, "port", 0);
    if (port > 0) planned["url"] = Url(static_cast<int>(port));
    return;
  }
  // What the proxy measured, for the plan to show.
  if (prior.contains("traffic") && prior["traffic"].is_object())
    resp->diagnostics.push_back(
        {Severity::kNote, "traffic since its proxy started: " + TrafficLine(prior["traffic"]), "", {}});
  // Anything changed, or the endpoint degraded (a replica or the proxy
  // died): an update, which repairs it. The proxy keeps its port unless
  // `port` changes; replicas that restart get new ports.
  bool changed = Str(prior, "status") != "ready";
  for (const auto& [k, v] : req.config.items()) {
    if (k == "id" || k == "url" || k == "urls" || k == "status" || k == "log_dir" || k == "traffic") continue;
    if (!SameValue(prior.contains(k) ? prior[k] : json(), v)) changed = true;
  }
  if (!changed) return;
  int64_t pmin = 0, pmax = 0, cmin = 0, cmax = 0;
  bool moved = !SameValue(prior.value("port", json()), planned.value("port", json()));
  bool restarts = ReplicaSpecChanged(prior, planned) || CanaryModel(prior) != CanaryModel(planned) ||
                  CanaryWeight(prior) != CanaryWeight(planned) ||
                  !ParseRange(prior.value("replicas", json()), 1, &pmin, &pmax) ||
                  !ParseRange(planned.value("replicas", json()), 1, &cmin, &cmax) || pmin != cmin ||
                  Str(prior, "status") != "ready";
  if (restarts) planned["urls"] = Unknown();
  if (moved) {
    int64_t port = Int(planned, "port", 0);
    planned["url"] = port > 0 ? json(Url(static_cast<int>(port))) : Unknown();
  }
  planned["status"] = Unknown();
  planned["traffic"] = Unknown();
}

bool LocalProvider::StartReplica(const ApplyRequest& req, const std::string& id, const fs::path& dir,
                                 const std::vector<int>& pool, int per, Replica* r, std::string* error) {
  const json& c = req.config;
  std::vector<std::string> command;
  if (!CommandArgv(c.value("command", json()), &command, error)) return false;
  std::string holder = req.address + " (endpoint " + id + ", " + ReplicaName(*r) + ")";
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
      *error = ReplicaName(*r) + " needs " + std::to_string(per) + " free GPU(s) of [" +
               Join(pool, ",") + "] but they are in use" + (held.empty() ? "" : " (" + held + ")");
      return false;
    }
  }
  auto env = BaseEnv(c);
  env["PORT"] = std::to_string(r->port);
  env["KILN_REPLICA"] = std::to_string(r->index);
  env["KILN_TRACK"] = r->track;
  env["CUDA_VISIBLE_DEVICES"] = Join(lease.indices, ",");
  if (c.contains("model") && c["model"].is_string()) env["KILN_MODEL"] = c["model"].get<std::string>();
  // A canary replica serves the canary's model.
  if (r->track == "canary") env["KILN_MODEL"] = Str(c.value("canary", json::object()), "model");
  SpawnSpec spec;
  spec.argv = command;
  spec.env = env;
  spec.log_path = (dir / LogName(*r)).string();
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
      *error = "cancelled while waiting for " + ReplicaName(r) +
               " to be healthy; the replica was stopped";
      return false;
    }
    if (!sys_->Alive(r.pid)) {
      *error = ReplicaName(r) + " exited before it was healthy; last lines of its log:\n" +
               LastLines(dir / LogName(r), 10);
      return false;
    }
    int64_t now = sys_->NowMs();
    if (now - start >= timeout) {
      StopSession(r.pid);  // never healthy: nothing is left running
      *error = ReplicaName(r) + " did not answer GET " + url + " with 2xx within " +
               std::to_string(timeout / 1000) + "s" +
               (last_status > 0 ? " (last status " + std::to_string(last_status) + ")" : "") +
               "; it was stopped";
      return false;
    }
    if (req.progress && now - last_note >= 10000) {
      req.progress("waiting for " + ReplicaName(r) + " to be healthy");
      last_note = now;
    }
    sys_->SleepMs(100);
  }
}

bool LocalProvider::PortOwner(int port, std::string* id, std::string* address, pid_t* pid) {
  std::error_code ec;
  for (fs::directory_iterator it(root_ / "endpoints", ec), end; !ec && it != end; it.increment(ec)) {
    pid_t proxy = ProxyPid(it->path());
    bool match = proxy > 0 && Int(ReadJson(it->path() / "proxy.json"), "port", 0) == port && sys_->Alive(proxy);
    if (!match)
      for (const Replica& r : LoadReplicas(it->path()))
        if (r.port == port && sys_->Alive(r.pid)) {
          match = true;
          proxy = r.pid;
        }
    if (!match) continue;
    *id = it->path().filename().string();
    *address = Trimmed(ReadText(it->path() / "address"));
    *pid = proxy;
    return true;
  }
  return false;
}

std::string LocalProvider::PortProblem(const std::string& address, const std::string& id, int port, int) {
  if (sys_->PortFree(port)) return "";
  std::string owner_id, owner, what = "another process";
  pid_t pid = 0;
  if (PortOwner(port, &owner_id, &owner, &pid)) {
    if (owner == address && owner_id != id) return "";
    what = (owner == address ? "this endpoint" : owner.empty() ? "an endpoint" : owner) + " (pid " +
           std::to_string(pid) + ")";
  }
  return "port " + std::to_string(port) + " (the endpoint's proxy) is in use by " + what;
}

bool LocalProvider::CheckPorts(const std::string& address, const std::string& id, const json& config, int,
                               std::string* error) {
  int64_t port = Int(config, "port", 0);
  if (port <= 0) return true;
  *error = PortProblem(address, id, static_cast<int>(port), 0);
  return error->empty();
}

bool LocalProvider::TakePort(const ApplyRequest& req, const std::string& id, int port, int,
                             std::string* error) {
  std::string owner_id, owner;
  pid_t pid = 0;
  if (!sys_->PortFree(port) && PortOwner(port, &owner_id, &owner, &pid) && owner == req.address &&
      owner_id != id) {
    if (req.progress)
      req.progress("stopping the replaced object's proxy on port " + std::to_string(port) + " (pid " +
                   std::to_string(pid) + ") to take the port over");
    StopSession(pid);
    // The port is free once the old process is gone; the kernel may take a
    // moment to let go of the listening socket.
    for (int i = 0; i < 50 && !sys_->PortFree(port); ++i) sys_->SleepMs(20);
  }
  *error = PortProblem(req.address, id, port, 0);
  return error->empty();
}

bool LocalProvider::Publish(const fs::path& dir, const json& c, int port, const std::vector<Replica>& serving,
                            int64_t* generation, std::string* error) {
  json prev = ReadJson(dir / "proxy.json");
  *generation = Int(prev, "generation", 0) + 1;
  json hc = c.value("health_check", json::object());
  json backends = json::array();
  for (const auto& r : serving)
    backends.push_back({{"index", r.index}, {"port", r.port}, {"track", r.track}, {"pid", r.pid}});
  int64_t min = 1, max = 1;
  ParseRange(c.value("replicas", json()), 1, &min, &max);
  // Autoscaling moves the stable set within what the canary leaves of the range.
  int stable = 0, canaries = 0;
  Tracks(c, min, &stable, &canaries);
  max -= min - stable;
  min = stable;
  json autoscale = c.value("autoscale", json());
  json as;
  std::string metric = autoscale.is_object() ? Str(autoscale, "metric", "rps") : "";
  if ((metric == "rps" || metric == "concurrency") && max > min) {
    as = {{"metric", metric},
          {"target", autoscale.value("target", 1.0)},
          {"min", min},
          {"max", max},
          {"cooldown_ms", scale_down_after_ms_},
          {"window_ms", std::min<int64_t>(5000, std::max<int64_t>(1000, scale_down_after_ms_))}};
  }
  json cfg = {{"generation", *generation},
              {"port", port},
              {"health_path", Str(hc, "path", "/health")},
              {"health_interval_ms", std::min<int64_t>(Int(hc, "interval", 10000), 2000)},
              {"canary_weight", CanaryWeight(c)},
              {"backends", backends},
              {"autoscale", as},
              // A request waits this long for a ready replica.
              {"wait_ms", std::max<int64_t>(30000, Int(hc, "timeout", 60000) + 10000)}};
  if (!WriteText(dir / "proxy.json", cfg.dump(2))) {
    *error = "cannot write " + (dir / "proxy.json").string() + " (is the disk full?)";
    return false;
  }
  pid_t proxy = ProxyPid(dir);
  if (proxy <= 0 || !sys_->Alive(proxy)) return true;  // read when it starts
  for (int i = 0; i < 200; ++i) {
    if (ReadProxyFigures(dir).generation >= *generation) return true;
    if (!sys_->Alive(proxy)) break;
    sys_->SleepMs(50);
  }
  *error = "the proxy (pid " + std::to_string(proxy) + ") did not take up the new replica set; its log:\n" +
           LastLines(dir / "proxy.log", 10);
  return false;
}

void LocalProvider::Drain(const ApplyRequest& req, const fs::path& dir, const Replica& r, int64_t generation) {
  pid_t proxy = ProxyPid(dir);
  int64_t start = sys_->NowMs(), last_note = start;
  while (proxy > 0 && sys_->Alive(proxy) && sys_->NowMs() - start < 600000 && !Cancelled()) {
    ProxyFigures f = ReadProxyFigures(dir);
    bool busy = f.generation < generation;
    for (const auto& d : f.draining)
      if (Int(d, "port", 0) == r.port && Int(d, "inflight", 0) > 0) busy = true;
    if (!busy) return;
    if (req.progress && sys_->NowMs() - last_note >= 10000) {
      req.progress("draining " + ReplicaName(r) + ": requests still in flight");
      last_note = sys_->NowMs();
    }
    sys_->SleepMs(20);
  }
}

bool LocalProvider::EnsureProxy(const ApplyRequest& req, const std::string& id, const fs::path& dir, int port,
                                const std::vector<Replica>& serving, std::string* error) {
  pid_t pid = ProxyPid(dir);
  bool alive = pid > 0 && sys_->Alive(pid);
  if (alive && Int(ReadJson(dir / "proxy.json"), "port", 0) == port) return true;
  if (alive) {
    if (req.progress) req.progress("moving the proxy to port " + std::to_string(port));
    StopSession(pid);
  }
  if (!TakePort(req, id, port, 0, error)) return false;
  int64_t generation = 0;
  if (!Publish(dir, req.config, port, serving, &generation, error)) return false;
  SpawnSpec spec;
  spec.argv = {SupervisorExe(), "__local-proxy", root_.string(), id};
  spec.log_path = (dir / "proxy.log").string();
  std::error_code ec;
  fs::remove(dir / "metrics.json", ec);
  pid = sys_->SpawnDetached(spec, error);
  if (pid <= 0) {
    *error = "cannot start the proxy: " + *error;
    return false;
  }
  WriteText(dir / "proxy.pid", std::to_string(pid) + "\n");
  for (int i = 0; i < 200; ++i) {
    if (Int(ReadJson(dir / "metrics.json"), "pid", 0) == pid) {
      if (req.progress && !alive) req.progress("proxy listening on " + Url(port));
      return true;
    }
    if (!sys_->Alive(pid)) break;
    sys_->SleepMs(50);
  }
  StopSession(pid);
  *error = "the proxy did not start on port " + std::to_string(port) + "; its log:\n" +
           LastLines(dir / "proxy.log", 10);
  return false;
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
  int stables = 0, canaries = 0;
  Tracks(c, min, &stables, &canaries);
  std::string error;
  std::vector<int> pool;
  int per = 0;
  if (!GpuPool(c, req.address, stables + canaries, &pool, &per, &error)) {
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
  bool canary_stale = stale || (!create && CanaryModel(req.prior) != CanaryModel(c));

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
  // How the proxy starts replicas when it scales up: written only with
  // autoscaling, in a directory only the owner may enter (it holds secrets).
  json autoscale = c.value("autoscale", json());
  if (autoscale.is_object() && max > min) {
    std::vector<std::string> argv;
    CommandArgv(c.value("command", json()), &argv, &error);
    json env = json::object();
    for (const auto& [k, val] : BaseEnv(c)) env[k] = val;
    env["KILN_TRACK"] = "stable";
    if (c.contains("model") && c["model"].is_string()) env["KILN_MODEL"] = c["model"];
    json hc = c.value("health_check", json::object());
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    WriteText(dir / "replica_spec.json", json({{"argv", argv},
                                               {"env", env},
                                               {"pool", pool},
                                               {"per", per},
                                               {"address", req.address},
                                               {"first_index", max},
                                               {"health_path", Str(hc, "path", "/health")},
                                               {"health_timeout_ms", Int(hc, "timeout", 60000)}})
                                             .dump(2));
  } else {
    fs::remove(dir / "replica_spec.json", ec);
  }

  // The proxy's port: `port`, or the free one it had (port = 0).
  json prev_proxy = ReadJson(dir / "proxy.json");
  int port = static_cast<int>(Int(c, "port", 0));
  if (port <= 0) {
    bool was_free = !create && Int(req.prior, "port", 0) <= 0;
    port = was_free && Int(prev_proxy, "port", 0) > 0 ? static_cast<int>(Int(prev_proxy, "port", 0))
                                                      : sys_->FreePort();
  }

  // What serves now: the replicas still alive (a dead one is replaced below).
  std::vector<Replica> serving;
  for (const auto& r : old)
    if (sys_->Alive(r.pid)) serving.push_back(r);
  bool ok = EnsureProxy(req, id, dir, port, serving, &error);
  if (!ok) resp.diagnostics.push_back(Err("endpoint " + req.address + ": " + error, {"port"}, kPortHelp));
  int64_t generation = 0;
  auto publish = [&] {
    if (ok && !Publish(dir, c, port, serving, &generation, &error)) {
      resp.diagnostics.push_back(Err("endpoint " + req.address + ": " + error));
      ok = false;
    }
    SaveReplicas(dir, serving);  // after each step: a crash here forgets none
  };
  auto remove = [&](const Replica& r) {
    serving.erase(std::remove_if(serving.begin(), serving.end(),
                                 [&](const Replica& s) { return s.pid == r.pid && s.port == r.port; }),
                  serving.end());
  };
  // Stops `r` without losing a request: out of the routing, drained, stopped.
  auto retire = [&](const Replica& r) {
    remove(r);
    publish();
    if (ok) Drain(req, dir, r, generation);
    StopSession(r.pid);
    SaveReplicas(dir, serving);
  };
  auto bring_up = [&](Replica* r) {
    r->port = sys_->FreePort();
    r->pid = 0;
    if (!StartReplica(req, id, dir, pool, per, r, &error) || !WaitHealthy(c, dir, *r, req, &error)) {
      resp.diagnostics.push_back(Err("endpoint " + req.address + ": " + error));
      ok = false;
      return false;
    }
    if (req.progress)
      req.progress(ReplicaName(*r) + " ready on port " + std::to_string(r->port) +
                   (r->gpus.empty() ? "" : " with GPUs " + Join(r->gpus, ",")));
    return true;
  };
  auto free_gpus = [&] {
    int n = 0;
    for (int i : pool)
      if (!GpuHeld(root_, i)) ++n;
    return n;
  };

  // Replicas one at a time: the others keep serving.
  std::vector<Replica> wanted;
  for (int i = 0; i < stables; ++i) wanted.push_back({i, 0, 0, {}, "stable"});
  for (int i = 0; i < canaries; ++i) wanted.push_back({i, 0, 0, {}, "canary"});
  for (Replica want : wanted) {
    if (!ok) break;
    auto it = std::find_if(serving.begin(), serving.end(),
                           [&](const Replica& s) { return s.index == want.index && s.track == want.track; });
    bool running = it != serving.end();
    bool outdated = want.track == "canary" ? canary_stale : stale;
    if (running && !outdated) continue;
    if (!running) {
      if (bring_up(&want)) {
        serving.push_back(want);
        publish();
      }
      continue;
    }
    Replica prev = *it;
    if (req.progress) req.progress("replacing " + ReplicaName(prev));
    if (per == 0 || free_gpus() >= per) {
      // Start the new one beside the old, switch, then drain the old.
      if (!bring_up(&want)) break;
      serving.push_back(want);
      retire(prev);
    } else {
      // No GPUs for both at once: the old one drains first (requests wait
      // in the proxy if it was the only one).
      retire(prev);
      if (!ok) break;
      if (bring_up(&want)) {
        serving.push_back(want);
        publish();
      }
    }
  }
  // Replicas no longer wanted (fewer replicas, no canary).
  for (const Replica& r : std::vector<Replica>(serving))
    if (ok && std::none_of(wanted.begin(), wanted.end(),
                           [&](const Replica& w) { return w.index == r.index && w.track == r.track; }))
      retire(r);
  for (const Replica& r : old)
    if (std::none_of(serving.begin(), serving.end(), [&](const Replica& s) { return s.pid == r.pid; }) &&
        sys_->Alive(r.pid) && ok)
      StopSession(r.pid);
  publish();
  if (!ok && serving.empty()) {
    // Nothing serves: the proxy does not stay behind either.
    StopSession(ProxyPid(dir));
  }
  // On failure the state still lists what was started (status "failed"),
  // so a later apply restarts it and a destroy finds it.
  std::sort(serving.begin(), serving.end(), [](const Replica& a, const Replica& b) {
    return a.track != b.track ? a.track == "stable" : a.index < b.index;
  });
  json urls = json::array();
  for (const auto& r : serving) urls.push_back(Url(r.port));
  state["urls"] = urls;
  state["url"] = Url(port);
  state["status"] = ok ? "ready" : "failed";
  state["traffic"] = Traffic(dir);
  save_state();
  resp.state = state;
  return resp;
}

json LocalProvider::Traffic(const fs::path& dir) {
  json t = TrafficSummary(dir);
  if (t.is_object()) return t;
  return {{"requests", 0}, {"errors", 0}, {"error_rate", 0.0}, {"p50_ms", 0.0}, {"p95_ms", 0.0}, {"replicas", 0}};
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
  pid_t proxy = ProxyPid(dir);
  bool proxy_alive = proxy > 0 && sys_->Alive(proxy);
  if (alive < total) {
    // Dead replicas are drift: report fewer running replicas than
    // configured, so the next plan updates the endpoint, which restarts them.
    state["status"] = alive == 0 ? "failed" : "degraded";
    if (state["replicas"].is_object()) state["replicas"]["min"] = alive;
    else state["replicas"] = alive;
  }
  // A dead proxy is drift too: the next apply starts it on the same port.
  if (!proxy_alive && Str(state, "status") == "ready") state["status"] = "degraded";
  // The proxy's figures are the endpoint's own progress, not drift.
  if (proxy_alive) state["traffic"] = Traffic(dir);
  resp.progress = alive == total && proxy_alive;
  resp.state = state;
  return resp;
}

void LocalProvider::DeleteEndpoint(const DeleteRequest& req, DeleteResponse* resp) {
  fs::path dir = root_ / "endpoints" / Str(req.state, "id");
  // The proxy first (it stops the replicas it started), then the rest.
  StopSession(ProxyPid(dir));
  json mine = ReadJson(dir / "autoscaled.json");
  if (mine.is_array())
    for (const auto& r : mine) StopSession(static_cast<pid_t>(Int(r, "pid", 0)));
  for (const Replica& r : LoadReplicas(dir)) StopSession(r.pid);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) resp->diagnostics.push_back(Err("could not remove everything of " + req.address + ": " + ec.message()));
}

}  // namespace kiln::local
