// The local provider's endpoint proxy: what it adds to a request, against
// calling the replica directly, on loopback in the same run.
//
// The replica is this program (`proxy_bench --serve`, a cpp-httplib server
// answering "ok" on every path), started by the real local provider as an
// endpoint of one replica behind its real proxy (`kiln __local-proxy`).
// Then ROUNDS rounds, each N sequential GETs straight to the replica and N
// through the proxy (alternating, so that the machine's load hits both
// alike), over one kept-alive connection each; and a concurrent run, 8
// clients through each. Prints the latency percentiles of both and their
// difference.
//
// Usage: proxy_bench [N=2000] [ROUNDS=5]
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "providers/local/local_provider.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

double NowUs() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * v.size()))];
}

int Serve() {
  httplib::Server s;
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(100000);
  // The proxy keeps a connection per server thread (up to 64) open to the
  // replica; cpp-httplib's default pool (8 threads) would hold the rest back.
  s.new_task_queue = [] { return new httplib::ThreadPool(128); };
  s.Get(R"(.*)", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  return s.listen("127.0.0.1", atoi(getenv("PORT"))) ? 0 : 1;
}

// Sequential GETs over one kept-alive connection; latencies in µs appended.
bool Run(int port, int n, std::vector<double>* out) {
  httplib::Client c("127.0.0.1", port);
  c.set_keep_alive(true);
  c.set_tcp_nodelay(true);
  for (int i = 0; i < n; ++i) {
    double t = NowUs();
    auto r = c.Get("/v1/predict");
    if (!r || r->status != 200) {
      fprintf(stderr, "request %d to port %d failed\n", i, port);
      return false;
    }
    out->push_back(NowUs() - t);
  }
  return true;
}

// `clients` threads, `n` requests each; requests per second.
double Throughput(int port, int clients, int n) {
  std::atomic<int> failed{0};
  double t = NowUs();
  std::vector<std::thread> ts;
  for (int k = 0; k < clients; ++k)
    ts.emplace_back([&] {
      std::vector<double> ignored;
      if (!Run(port, n, &ignored)) ++failed;
    });
  for (auto& th : ts) th.join();
  double secs = (NowUs() - t) / 1e6;
  return failed ? -1 : clients * n / secs;
}

void Report(const char* what, const std::vector<double>& v) {
  printf("%-8s n=%zu  p50 %7.1f us  p95 %7.1f us  p99 %7.1f us\n", what, v.size(), Pct(v, 50), Pct(v, 95),
         Pct(v, 99));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--serve") return Serve();
  int n = argc >= 2 ? atoi(argv[1]) : 2000, rounds = argc >= 3 ? atoi(argv[2]) : 5;
  setenv("KILN_EXE", KILN_BINARY, 1);
  std::string t = (fs::temp_directory_path() / "kiln-proxy-bench-XXXXXX").string();
  if (!mkdtemp(t.data())) return 1;
  auto p = kiln::NewLocalProvider();
  p->Configure({{{"root", t}}});
  json cfg = {{"command", json::array({fs::canonical("/proc/self/exe").string(), "--serve"})},
              {"model", "m"},
              {"port", 0},
              {"replicas", 1},
              {"health_check", {{"path", "/health"}, {"interval", 10000}, {"timeout", 20000}}},
              {"env", json::object()}};
  auto plan = p->Plan({"endpoint", "endpoint.bench", nullptr, cfg});
  auto r = p->Apply({"endpoint", "endpoint.bench", nullptr, plan.planned, cfg, nullptr});
  int rc = 0;
  if (r.state.is_object() && r.state.value("status", "") == "ready") {
    auto port_of = [](const json& url) { return std::stoi(url.get<std::string>().substr(url.get<std::string>().rfind(':') + 1)); };
    int direct = port_of(r.state["urls"][0]), proxy = port_of(r.state["url"]);
    std::vector<double> d, x;
    Run(direct, 200, &d);  // warm-up
    Run(proxy, 200, &x);
    d.clear();
    x.clear();
    for (int i = 0; i < rounds && rc == 0; ++i)
      if (!Run(direct, n, &d) || !Run(proxy, n, &x)) rc = 1;
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    printf("proxy_bench: %d rounds x %d sequential GETs each way, one kept-alive connection, load average %.1f\n",
           rounds, n, load[0]);
    Report("direct", d);
    Report("proxy", x);
    printf("overhead p50 %.1f us, p95 %.1f us per request\n", Pct(x, 50) - Pct(d, 50), Pct(x, 95) - Pct(d, 95));
    double td = Throughput(direct, 8, n / 4), tx = Throughput(proxy, 8, n / 4);
    printf("8 concurrent clients, %d GETs each: direct %.0f req/s, proxy %.0f req/s\n", n / 4, td, tx);
  } else {
    fprintf(stderr, "the endpoint did not start\n");
    rc = 1;
  }
  if (r.state.is_object()) p->Delete({"endpoint", "endpoint.bench", r.state});
  fs::remove_all(t);
  return rc;
}
