// Refresh of 1,000 Slurm jobs: one batch read (one GET /jobs) against one
// read per job (GET /job/{id}), both through the real slurm provider and
// libcurl against a small loopback HTTP server that serves recorded
// slurmrestd answers (tests/slurm/testdata; the job record repeated with
// 1,000 ids and comments).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "providers/slurm/slurm_provider.h"

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string Recorded(const std::string& name) {
  std::ifstream in(std::string(KILN_SOURCE_DIR) + "/tests/slurm/testdata/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One thread per connection, one request per connection (libcurl's
// handles are not reused by the provider).
class RecordedServer {
 public:
  explicit RecordedServer(std::map<std::string, std::string> answers) : answers_(std::move(answers)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(fd_, 128);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~RecordedServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  int64_t requests() const { return requests_.load(); }

 private:
  void Loop() {
    while (!stop_) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::thread([this, c] { Serve(c); }).detach();
    }
  }
  void Serve(int c) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = read(c, buf, sizeof buf);
      if (n <= 0) break;
      req.append(buf, static_cast<size_t>(n));
    }
    ++requests_;
    std::string line = req.substr(0, req.find("\r\n"));
    std::string path = line.substr(line.find(' ') + 1);
    path = path.substr(0, path.find(' '));
    auto it = answers_.find(path);
    std::string body = it == answers_.end() ? "{\"errors\": [{\"error\": \"no recording\"}]}" : it->second;
    std::string head = std::string("HTTP/1.1 ") + (it == answers_.end() ? "404 Not Found" : "200 OK") +
                       "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n";
    std::string out = head + body;
    for (size_t off = 0; off < out.size();) {
      ssize_t n = write(c, out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(c);
  }

  std::map<std::string, std::string> answers_;
  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> requests_{0};
  std::thread thread_;
};

double Ms(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

int main() {
  const int kJobs = 1000;
  json recorded = json::parse(Recorded("jobs.json"));
  json meta = recorded["meta"];
  json templ = recorded["jobs"][3];  // a RUNNING job as slurmrestd returned it
  json all = json::array();
  std::map<std::string, std::string> answers;
  kiln::ReadBatchRequest batch;
  for (int i = 1; i <= kJobs; ++i) {
    json j = templ;
    j["job_id"] = i;
    j["job_state"] = i % 3 ? "RUNNING" : "COMPLETED";
    std::string address = "training_job.sweep[\"" + std::to_string(i) + "\"]";
    j["comment"] = "kiln:" + address + " submit=0123456789abcdef";
    all.push_back(j);
    answers["/slurm/v0.0.38/job/" + std::to_string(i)] =
        json({{"meta", meta}, {"errors", json::array()}, {"jobs", json::array({j})}}).dump(2);
    batch.reads.push_back({"training_job", address, {{"id", std::to_string(i)}, {"status", "pending"}}});
  }
  answers["/slurm/v0.0.38/jobs"] = json({{"meta", meta}, {"errors", json::array()}, {"jobs", all}}).dump(2);
  answers["/openapi/v3"] = Recorded("openapi_v0.0.38.json");
  answers["/slurm/v0.0.38/ping"] = Recorded("ping_ok.json");
  RecordedServer server(answers);

  fs::path root = fs::temp_directory_path() / ("kiln-slurm-bench-" + std::to_string(getpid()));
  fs::create_directories(root);
  auto provider = kiln::NewSlurmProvider();
  json config = {{"url", "http://127.0.0.1:" + std::to_string(server.port())}, {"user", "trainer"},
                 {"token", "recorded"}, {"shared_root", root.string()}};
  auto cr = provider->Configure({config});
  if (kiln::HasErrors(cr.diagnostics)) {
    std::fprintf(stderr, "configure: %s\n", kiln::ErrorText(cr.diagnostics).c_str());
    return 1;
  }
  std::printf("slurm refresh of %d recorded jobs over loopback HTTP (GET /jobs answer: %zu bytes)\n", kJobs,
              answers["/slurm/v0.0.38/jobs"].size());

  for (int round = 0; round < 3; ++round) {
    int64_t before = server.requests();
    auto t0 = std::chrono::steady_clock::now();
    kiln::ReadBatchResponse b = provider->ReadBatch(batch);
    auto t1 = std::chrono::steady_clock::now();
    int64_t batch_requests = server.requests() - before;
    if (b.results.size() != static_cast<size_t>(kJobs) || b.results[0].state["status"] != "running") {
      std::fprintf(stderr, "batch read answered wrongly\n");
      return 1;
    }

    before = server.requests();
    auto t2 = std::chrono::steady_clock::now();
    for (const auto& r : batch.reads) provider->Read(r);
    auto t3 = std::chrono::steady_clock::now();
    int64_t single_requests = server.requests() - before;

    // What the planner did before batches: 16 reads at a time.
    before = server.requests();
    std::atomic<size_t> next{0};
    auto t4 = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (int w = 0; w < 16; ++w)
      workers.emplace_back([&] {
        for (size_t i; (i = next++) < batch.reads.size();) provider->Read(batch.reads[i]);
      });
    for (auto& w : workers) w.join();
    auto t5 = std::chrono::steady_clock::now();
    int64_t parallel_requests = server.requests() - before;

    std::printf("round %d: batch read %7.1f ms (%lld request) | per-job reads %7.1f ms (%lld requests) | "
                "per-job reads x16 threads %7.1f ms (%lld requests)\n",
                round + 1, Ms(t0, t1), static_cast<long long>(batch_requests), Ms(t2, t3),
                static_cast<long long>(single_requests), Ms(t4, t5), static_cast<long long>(parallel_requests));
  }
  fs::remove_all(root);
  return 0;
}
