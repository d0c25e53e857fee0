// The endpoint proxy (see proxy.h): routing over ready replicas, health
// checks, canary weights, metrics, draining and autoscaling.
#include "providers/local/proxy.h"

#include <httplib.h>
#include <signal.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "providers/local/leases.h"
#include "providers/local/system.h"

namespace kiln::local {

namespace {

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p / 100.0 * v.size()));
  return v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)];
}

// Whether header k is `name` (header names are case-insensitive).
bool Hop(const std::string& k, const char* name) { return strcasecmp(k.c_str(), name) == 0; }

// Whether a request that failed this way may go to another replica: when
// nothing was sent, or when sending it again is harmless (idempotent
// methods, as HTTP defines them).
bool Retryable(const std::string& method, httplib::Error e) {
  if (e == httplib::Error::Connection) return true;
  bool idempotent = method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" ||
                    method == "DELETE";
  return idempotent && (e == httplib::Error::Read || e == httplib::Error::Write);
}

double Round2(double x) { return std::round(x * 100) / 100; }

void Log(const std::string& line) {
  fprintf(stderr, "kiln-proxy: %s\n", line.c_str());
  fflush(stderr);
}

struct Backend {
  int index = 0;
  int port = 0;
  std::string track = "stable";
  pid_t pid = 0;
  bool autoscaled = false;
  std::vector<int> gpus;
  std::atomic<int> inflight{0};
  std::atomic<bool> ready{true};
};
using BackendPtr = std::shared_ptr<Backend>;

// Requests, errors and the latest latencies of one replica set.
struct SetFigures {
  int64_t requests = 0, errors = 0;
  std::deque<double> latencies;  // ms, the newest kLatencies
};
constexpr size_t kLatencies = 10000;

class Proxy {
 public:
  Proxy(fs::path root, std::string id) : root_(std::move(root)), id_(std::move(id)), dir_(root_ / "endpoints" / id_) {}

  int Run() {
    sys_ = RealSystem();
    json cfg = ReadJson(dir_ / "proxy.json");
    if (!cfg.is_object()) {
      Log("no " + (dir_ / "proxy.json").string());
      return 2;
    }
    port_ = static_cast<int>(Int(cfg, "port", 0));
    Reload(cfg);
    Adopt();
    server_.new_task_queue = [] { return new httplib::ThreadPool(64); };
    server_.set_keep_alive_max_count(1000);
    // Headers and body go out as separate writes: without this, Nagle's
    // algorithm and delayed ACKs hold each answer back by 40 ms.
    server_.set_tcp_nodelay(true);
    server_.set_socket_options([](int sock) {
      int one = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      fcntl(sock, F_SETFD, FD_CLOEXEC);
    });
    auto handler = [this](const httplib::Request& req, httplib::Response& res) { Forward(req, res); };
    server_.Get(R"(.*)", handler);
    server_.Post(R"(.*)", handler);
    server_.Put(R"(.*)", handler);
    server_.Patch(R"(.*)", handler);
    server_.Delete(R"(.*)", handler);
    server_.Options(R"(.*)", handler);
    if (!server_.bind_to_port("0.0.0.0", port_)) {
      Log("cannot listen on port " + std::to_string(port_) + ": " + strerror(errno));
      return 1;
    }
    Log("listening on port " + std::to_string(port_));
    WriteMetrics();
    std::thread control([this] { ControlLoop(); });
    std::thread health([this] { HealthLoop(); });
    server_.listen_after_bind();
    stop_ = true;
    cv_.notify_all();
    control.join();
    health.join();
    // The replicas autoscaling started go with the proxy.
    std::vector<BackendPtr> mine;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& b : active_)
        if (b->autoscaled) mine.push_back(b);
    }
    for (const auto& b : mine) StopReplica(b);
    SaveAutoscaled();
    Log("stopped");
    return 0;
  }

  void Stop() {
    stop_ = true;
    server_.stop();
    cv_.notify_all();
  }

 private:
  // ---------------------------------------------------------- configuration

  // Applies proxy.json: its backends replace kiln's (the proxy's own
  // autoscaled ones stay); removed ones drain.
  void Reload(const json& cfg) {
    std::lock_guard<std::mutex> lock(mu_);
    cfg_ = cfg;
    generation_ = Int(cfg, "generation", 0);
    canary_weight_ = static_cast<int>(Int(cfg, "canary_weight", 0));
    std::vector<BackendPtr> next;
    for (const auto& b : cfg.value("backends", json::array())) {
      int port = static_cast<int>(Int(b, "port", 0));
      BackendPtr found;
      for (const auto& a : active_)
        if (a->port == port && !a->autoscaled) found = a;
      if (!found) {
        found = std::make_shared<Backend>();
        found->port = port;
      }
      found->index = static_cast<int>(Int(b, "index", 0));
      found->track = Str(b, "track", "stable");
      found->pid = static_cast<pid_t>(Int(b, "pid", 0));
      next.push_back(found);
    }
    for (const auto& a : active_) {
      if (a->autoscaled) {
        next.push_back(a);
        continue;
      }
      if (std::none_of(next.begin(), next.end(), [&](const BackendPtr& n) { return n == a; }))
        draining_.push_back(a);
    }
    active_ = std::move(next);
  }

  // Replicas an earlier run of the proxy started (it was killed): still
  // running ones are routed to again, dead ones forgotten.
  void Adopt() {
    json j = ReadJson(dir_ / "autoscaled.json");
    if (!j.is_array()) return;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& r : j) {
      pid_t pid = static_cast<pid_t>(Int(r, "pid", 0));
      if (!sys_->SessionAlive(pid)) continue;
      auto b = std::make_shared<Backend>();
      b->index = static_cast<int>(Int(r, "index", 0));
      b->port = static_cast<int>(Int(r, "port", 0));
      b->pid = pid;
      b->autoscaled = true;
      for (const auto& g : r.value("gpus", json::array())) b->gpus.push_back(g.get<int>());
      active_.push_back(b);
      next_index_ = std::max(next_index_, b->index + 1);
    }
    SaveAutoscaledLocked();
  }

  void SaveAutoscaledLocked() {
    json j = json::array();
    for (const auto& b : active_)
      if (b->autoscaled) j.push_back({{"index", b->index}, {"pid", b->pid}, {"port", b->port}, {"gpus", b->gpus}});
    for (const auto& b : draining_)
      if (b->autoscaled) j.push_back({{"index", b->index}, {"pid", b->pid}, {"port", b->port}, {"gpus", b->gpus}});
    WriteText(dir_ / "autoscaled.json", j.dump(2));
  }
  void SaveAutoscaled() {
    std::lock_guard<std::mutex> lock(mu_);
    SaveAutoscaledLocked();
  }

  // ---------------------------------------------------------- routing

  // A ready backend of the wanted set (least requests in flight, ties
  // round-robin), with its in-flight count taken; null when none is ready.
  BackendPtr Pick(const std::string& want, std::string* track) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& t : {want, std::string(want == "canary" ? "stable" : "canary")}) {
      std::vector<BackendPtr> ready;
      for (const auto& b : active_)
        if (b->track == t && b->ready) ready.push_back(b);
      if (ready.empty()) continue;
      size_t start = rr_++ % ready.size();
      BackendPtr best;
      for (size_t k = 0; k < ready.size(); ++k) {
        const auto& b = ready[(start + k) % ready.size()];
        if (!best || b->inflight < best->inflight) best = b;
      }
      ++best->inflight;
      *track = t;
      return best;
    }
    return nullptr;
  }

  void Forward(const httplib::Request& req, httplib::Response& res) {
    int64_t t0 = SteadyMs();
    // Latency in fractions of a millisecond: on loopback a request takes
    // well under one.
    const auto start = std::chrono::steady_clock::now();
    auto elapsed_ms = [&start] {
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    };
    ++arrivals_;
    ++waiting_;
    thread_local std::mt19937 rng(std::random_device{}());
    std::string want = "stable";
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (canary_weight_ > 0 && static_cast<int>(rng() % 100) < canary_weight_) want = "canary";
    }
    int64_t wait_ms = Int(cfg_snapshot(), "wait_ms", 30000);
    std::string track;
    int attempts = 0;
    while (true) {
      BackendPtr b = Pick(want, &track);
      if (!b) {
        // No replica is ready (all restarting, or autoscaling from zero):
        // the request waits for one rather than failing.
        if (SteadyMs() - t0 >= wait_ms || stop_) {
          --waiting_;
          Record("stable", 503, elapsed_ms());
          res.status = 503;
          res.set_content("kiln proxy: no ready replica within " + std::to_string(wait_ms / 1000) + "s\n",
                          "text/plain");
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      ++attempts;
      httplib::Result r = Send(*b, req);
      --b->inflight;
      if (!r && attempts < 5 && Retryable(req.method, r.error())) {
        // The replica is gone (it refused the connection, or closed a
        // kept-alive one): try another.
        b->ready = false;
        continue;
      }
      --waiting_;
      if (!r) {
        Record(track, 502, elapsed_ms());
        res.status = 502;
        res.set_content("kiln proxy: replica " + std::to_string(b->index) + " (port " + std::to_string(b->port) +
                            ") failed: " + httplib::to_string(r.error()) + "\n",
                        "text/plain");
        return;
      }
      res.status = r->status;
      for (const auto& [k, v] : r->headers) {
        if (Hop(k, "Content-Length") ||
            Hop(k, "Transfer-Encoding") ||
            Hop(k, "Connection") ||
            Hop(k, "Keep-Alive"))
          continue;
        res.headers.emplace(k, v);
      }
      res.body = std::move(r->body);
      res.set_header("X-Kiln-Replica", track + "-" + std::to_string(b->index));
      Record(track, r->status, elapsed_ms());
      return;
    }
  }

  json cfg_snapshot() {
    std::lock_guard<std::mutex> lock(mu_);
    return {{"wait_ms", Int(cfg_, "wait_ms", 30000)}};
  }

  httplib::Result Send(const Backend& b, const httplib::Request& in) {
    // One keep-alive client per server thread and replica port.
    thread_local std::map<int, std::unique_ptr<httplib::Client>> clients;
    auto& c = clients[b.port];
    if (!c) {
      c = std::make_unique<httplib::Client>("127.0.0.1", b.port);
      c->set_keep_alive(true);
      c->set_tcp_nodelay(true);
      c->set_url_encode(false);
      c->set_connection_timeout(2);
      c->set_read_timeout(600);
      c->set_write_timeout(60);
    }
    httplib::Request out;
    out.method = in.method;
    out.path = in.target.empty() ? in.path : in.target;
    for (const auto& [k, v] : in.headers) {
      if (Hop(k, "Connection") ||
          Hop(k, "Keep-Alive") ||
          Hop(k, "Content-Length") ||
          Hop(k, "Transfer-Encoding") ||
          Hop(k, "REMOTE_ADDR") ||
          Hop(k, "REMOTE_PORT") ||
          Hop(k, "LOCAL_ADDR") ||
          Hop(k, "LOCAL_PORT"))
        continue;
      out.headers.emplace(k, v);
    }
    out.headers.emplace("X-Forwarded-For", in.remote_addr);
    out.body = in.body;
    return c->send(out);
  }

  void Record(const std::string& track, int status, double ms) {
    std::lock_guard<std::mutex> lock(figures_mu_);
    SetFigures& f = sets_[track];
    ++f.requests;
    if (status >= 500) ++f.errors;
    f.latencies.push_back(ms);
    if (f.latencies.size() > kLatencies) f.latencies.pop_front();
  }

  // ---------------------------------------------------------- health

  void HealthLoop() {
    while (!stop_) {
      std::vector<BackendPtr> all;
      std::string path;
      int64_t interval;
      {
        std::lock_guard<std::mutex> lock(mu_);
        all = active_;
        path = Str(cfg_, "health_path", "/health");
        interval = std::clamp<int64_t>(Int(cfg_, "health_interval_ms", 1000), 100, 10000);
      }
      for (const auto& b : all) {
        int status = sys_->HttpGet("http://127.0.0.1:" + std::to_string(b->port) + path, 1000);
        bool ok = status >= 200 && status < 300;
        if (ok != b->ready.load())
          Log("replica " + b->track + "-" + std::to_string(b->index) + " (port " + std::to_string(b->port) + ") " +
              (ok ? "ready again" : "not ready"));
        b->ready = ok;
      }
      std::unique_lock<std::mutex> lock(wait_mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(interval), [this] { return stop_.load(); });
    }
  }

  // ---------------------------------------------------------- control loop

  void ControlLoop() {
    fs::file_time_type seen{};
    std::error_code ec;
    seen = fs::last_write_time(dir_ / "proxy.json", ec);
    int64_t last_write = 0, last_sample = 0;
    while (!stop_) {
      fs::file_time_type t = fs::last_write_time(dir_ / "proxy.json", ec);
      if (!ec && t != seen) {
        seen = t;
        json cfg = ReadJson(dir_ / "proxy.json");
        if (cfg.is_object()) {
          Reload(cfg);
          Log("routing generation " + std::to_string(Int(cfg, "generation", 0)));
          WriteMetrics();
        }
      }
      int64_t now = SteadyMs();
      if (now - last_sample >= 250) {
        Sample(now);
        last_sample = now;
        Autoscale(now);
      }
      ReapDrained();
      if (now - last_write >= 500) {
        WriteMetrics();
        last_write = now;
      }
      std::unique_lock<std::mutex> lock(wait_mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return stop_.load(); });
    }
  }

  // Drained backends (no request in flight) leave the list; the proxy's
  // own are stopped then.
  void ReapDrained() {
    std::vector<BackendPtr> done;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = draining_.begin(); it != draining_.end();) {
        if ((*it)->inflight == 0) {
          done.push_back(*it);
          it = draining_.erase(it);
        } else {
          ++it;
        }
      }
    }
    bool changed = false;
    for (const auto& b : done)
      if (b->autoscaled) {
        StopReplica(b);
        changed = true;
      }
    if (changed) SaveAutoscaled();
  }

  // Load samples: arrivals and requests in flight (waiting included).
  struct Sample_ {
    int64_t at;
    int64_t arrivals;
    int inflight;
  };
  void Sample(int64_t now) {
    samples_.push_back({now, arrivals_.load(), waiting_.load()});
    int64_t window = Int(autoscale_cfg(), "window_ms", 5000);
    while (samples_.size() > 2 && now - samples_.front().at > window) samples_.pop_front();
  }
  json autoscale_cfg() {
    std::lock_guard<std::mutex> lock(mu_);
    json a = cfg_.value("autoscale", json());
    return a.is_object() ? a : json::object();
  }
  double Rps() const {
    if (samples_.size() < 2) return 0;
    double secs = (samples_.back().at - samples_.front().at) / 1000.0;
    return secs <= 0 ? 0 : (samples_.back().arrivals - samples_.front().arrivals) / secs;
  }
  double Concurrency() const {
    if (samples_.empty()) return 0;
    double sum = 0;
    for (const auto& s : samples_) sum += s.inflight;
    return sum / samples_.size();
  }

  void Autoscale(int64_t now) {
    json a = autoscale_cfg();
    if (a.empty()) return;
    std::string metric = Str(a, "metric", "rps");
    double target = a.value("target", 1.0);
    int64_t min = Int(a, "min", 1), max = Int(a, "max", 1), cooldown = Int(a, "cooldown_ms", 60000);
    double load = metric == "concurrency" ? Concurrency() : Rps();
    // What the load needs; kiln runs the `min` base replicas itself.
    int64_t need = target > 0 ? static_cast<int64_t>(std::ceil(load / target - 1e-9)) : min;
    if (waiting_ > 0 && need < 1) need = 1;
    int base = 0, mine = 0;
    BackendPtr newest;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& b : active_) {
        if (b->track != "stable") continue;
        if (b->autoscaled) {
          ++mine;
          if (!newest || b->index > newest->index) newest = b;
        } else {
          ++base;
        }
      }
    }
    int now_count = base + mine;
    if (std::min(need, max) > now_count) {
      low_since_ = 0;
      if (now < no_gpu_until_) return;
      Log("autoscale: " + metric + " " + std::to_string(Round2(load)) + " for target " + std::to_string(target) +
          ": " + std::to_string(now_count) + " -> " + std::to_string(now_count + 1) + " replicas");
      if (!StartAutoscaled()) no_gpu_until_ = now + 10000;
      return;
    }
    if (std::max(need, min) < now_count && newest) {
      if (low_since_ == 0) low_since_ = now;
      if (now - low_since_ < cooldown) return;
      Log("autoscale: " + metric + " " + std::to_string(Round2(load)) + " for target " + std::to_string(target) +
          " for " + std::to_string(cooldown / 1000) + "s: " + std::to_string(now_count) + " -> " +
          std::to_string(now_count - 1) + " replicas");
      {
        std::lock_guard<std::mutex> lock(mu_);
        active_.erase(std::remove(active_.begin(), active_.end(), newest), active_.end());
        draining_.push_back(newest);
      }
      low_since_ = now;  // the next step down waits a cool-down again
      return;
    }
    low_since_ = 0;
  }

  bool StartAutoscaled() {
    json spec = ReadJson(dir_ / "replica_spec.json");
    if (!spec.is_object()) {
      Log("autoscale: no replica_spec.json");
      return false;
    }
    auto b = std::make_shared<Backend>();
    b->autoscaled = true;
    b->index = std::max<int>(next_index_, static_cast<int>(Int(spec, "first_index", 0)));
    next_index_ = b->index + 1;
    std::vector<int> pool;
    for (const auto& g : spec.value("pool", json::array())) pool.push_back(g.get<int>());
    int per = static_cast<int>(Int(spec, "per", 0));
    Lease lease;
    std::string holder = Str(spec, "address") + " (endpoint " + id_ + ", autoscaled replica " +
                         std::to_string(b->index) + ")";
    if (!TakeGpus(root_, pool, per, holder, &lease)) {
      Log("autoscale: no " + std::to_string(per) + " free GPU(s) in [" + Join(pool, ",") + "] for another replica");
      return false;
    }
    b->port = sys_->FreePort();
    SpawnSpec s;
    const json argv = spec.value("argv", json::array()), env = spec.value("env", json::object());
    for (const auto& a : argv) s.argv.push_back(a.get<std::string>());
    for (auto it = env.begin(); it != env.end(); ++it) s.env[it.key()] = it.value().get<std::string>();
    s.env["PORT"] = std::to_string(b->port);
    s.env["KILN_REPLICA"] = std::to_string(b->index);
    s.env["CUDA_VISIBLE_DEVICES"] = Join(lease.indices, ",");
    s.log_path = (dir_ / ("replica-" + std::to_string(b->index) + ".log")).string();
    s.keep_fds = lease.fds;
    std::string error;
    b->pid = sys_->SpawnDetached(s, &error);
    b->gpus = lease.indices;
    CloseLease(&lease);
    if (b->pid <= 0) {
      Log("autoscale: cannot start a replica: " + error);
      return false;
    }
    // Recorded before it is healthy, so that a kill of the proxy forgets none.
    {
      std::lock_guard<std::mutex> lock(mu_);
      active_.push_back(b);
      b->ready = false;
      SaveAutoscaledLocked();
    }
    std::string url = "http://127.0.0.1:" + std::to_string(b->port) + Str(spec, "health_path", "/health");
    int64_t deadline = SteadyMs() + Int(spec, "health_timeout_ms", 60000);
    while (!stop_) {
      int status = sys_->HttpGet(url, 1000);
      if (status >= 200 && status < 300) {
        b->ready = true;
        Log("autoscale: replica " + std::to_string(b->index) + " ready on port " + std::to_string(b->port));
        return true;
      }
      if (!sys_->Alive(b->pid) || SteadyMs() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    Log("autoscale: replica " + std::to_string(b->index) + " did not become healthy; stopped (log " + s.log_path + ")");
    {
      std::lock_guard<std::mutex> lock(mu_);
      active_.erase(std::remove(active_.begin(), active_.end(), b), active_.end());
    }
    StopReplica(b);
    SaveAutoscaled();
    return false;
  }

  void StopReplica(const BackendPtr& b) {
    if (b->pid <= 0 || !sys_->SessionAlive(b->pid)) return;
    sys_->KillSession(b->pid, SIGTERM);
    for (int i = 0; i < 50 && sys_->SessionAlive(b->pid); ++i) sys_->SleepMs(100);
    sys_->KillSession(b->pid, SIGKILL);
    for (int i = 0; i < 40 && sys_->SessionAlive(b->pid); ++i) sys_->SleepMs(50);
    Log("stopped replica " + std::to_string(b->index) + " (port " + std::to_string(b->port) + ")");
  }

  // ---------------------------------------------------------- metrics

  void WriteMetrics() {
    json sets = json::object();
    {
      std::lock_guard<std::mutex> lock(figures_mu_);
      for (const auto& [track, f] : sets_) {
        std::vector<double> l(f.latencies.begin(), f.latencies.end());
        sets[track] = {{"requests", f.requests},
                       {"errors", f.errors},
                       {"error_rate", f.requests ? Round2(100.0 * f.errors / f.requests) / 100 : 0.0},
                       {"p50_ms", Round2(Percentile(l, 50))},
                       {"p95_ms", Round2(Percentile(l, 95))}};
      }
    }
    json j;
    {
      std::lock_guard<std::mutex> lock(mu_);
      json backends = json::array(), draining = json::array();
      int ready = 0, autoscaled = 0;
      for (const auto& b : active_) {
        backends.push_back({{"index", b->index}, {"port", b->port}, {"track", b->track}, {"ready", b->ready.load()},
                            {"inflight", b->inflight.load()}, {"autoscaled", b->autoscaled}});
        if (b->ready) ++ready;
        if (b->autoscaled) ++autoscaled;
      }
      for (const auto& b : draining_) draining.push_back({{"port", b->port}, {"inflight", b->inflight.load()}});
      j = {{"pid", getpid()},
           {"port", port_},
           {"generation", generation_},
           {"sets", sets},
           {"backends", backends},
           {"draining", draining},
           {"replicas_ready", ready},
           {"replicas_now", static_cast<int>(active_.size())},
           {"autoscaled", autoscaled},
           {"load", {{"rps", Round2(Rps())}, {"concurrency", Round2(Concurrency())}}}};
    }
    WriteText(dir_ / "metrics.json", j.dump(2));
  }

  fs::path root_;
  std::string id_;
  fs::path dir_;
  std::shared_ptr<System> sys_;
  httplib::Server server_;
  int port_ = 0;

  std::mutex mu_;  // guards the fields below up to rr_
  json cfg_;
  int64_t generation_ = 0;
  int canary_weight_ = 0;
  std::vector<BackendPtr> active_, draining_;
  size_t rr_ = 0;

  std::mutex figures_mu_;
  std::map<std::string, SetFigures> sets_;

  std::atomic<int64_t> arrivals_{0};
  std::atomic<int> waiting_{0};
  std::deque<Sample_> samples_;  // control thread only
  int64_t low_since_ = 0, no_gpu_until_ = 0;
  int next_index_ = 0;

  std::atomic<bool> stop_{false};
  std::mutex wait_mu_;
  std::condition_variable cv_;
};

Proxy* g_proxy = nullptr;

}  // namespace

ProxyFigures ReadProxyFigures(const fs::path& dir) {
  ProxyFigures f;
  json m = ReadJson(dir / "metrics.json");
  if (!m.is_object()) return f;
  f.present = true;
  f.generation = Int(m, "generation", -1);
  f.draining = m.value("draining", json::array());
  return f;
}

json TrafficSummary(const fs::path& dir) {
  json m = ReadJson(dir / "metrics.json");
  if (!m.is_object()) return json();
  json sets = m.value("sets", json::object());
  json t = json::object();
  int64_t requests = 0, errors = 0;
  for (const auto& [track, s] : sets.items()) {
    requests += Int(s, "requests", 0);
    errors += Int(s, "errors", 0);
  }
  json stable = sets.value("stable", json::object());
  t["requests"] = requests;
  t["errors"] = errors;
  t["error_rate"] = requests ? Round2(100.0 * errors / requests) / 100 : 0.0;
  t["p50_ms"] = stable.value("p50_ms", 0.0);
  t["p95_ms"] = stable.value("p95_ms", 0.0);
  t["replicas"] = Int(m, "replicas_ready", 0);
  if (sets.contains("canary")) {
    const json& c = sets["canary"];
    t["canary_requests"] = Int(c, "requests", 0);
    t["canary_error_rate"] = c.value("error_rate", 0.0);
    t["canary_p50_ms"] = c.value("p50_ms", 0.0);
    t["canary_p95_ms"] = c.value("p95_ms", 0.0);
  }
  return t;
}

std::string TrafficLine(const json& t) {
  if (!t.is_object()) return "";
  char buf[256];
  snprintf(buf, sizeof buf, "%lld requests, p50 %.1f ms, p95 %.1f ms, %.1f%% errors, %lld replicas now",
           static_cast<long long>(Int(t, "requests", 0)), t.value("p50_ms", 0.0), t.value("p95_ms", 0.0),
           100 * t.value("error_rate", 0.0), static_cast<long long>(Int(t, "replicas", 0)));
  std::string line = buf;
  if (t.contains("canary_requests")) {
    snprintf(buf, sizeof buf, " (canary: %lld requests, p50 %.1f ms, p95 %.1f ms, %.1f%% errors)",
             static_cast<long long>(Int(t, "canary_requests", 0)), t.value("canary_p50_ms", 0.0),
             t.value("canary_p95_ms", 0.0), 100 * t.value("canary_error_rate", 0.0));
    line += buf;
  }
  return line;
}

int ProxyMain(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: kiln __local-proxy ROOT ENDPOINT_ID\n");
    return 2;
  }
  // Signals go to one thread that stops the server.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  Proxy proxy(argv[2], argv[3]);
  g_proxy = &proxy;
  std::thread signals([set] {
    int sig = 0;
    sigwait(&set, &sig);
    Log("signal " + std::to_string(sig) + ": stopping");
    g_proxy->Stop();
  });
  signals.detach();
  int rc = proxy.Run();
  fflush(stderr);
  _exit(rc);  // the signal thread may still wait
}

}  // namespace kiln::local
