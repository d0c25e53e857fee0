#include "providers/local/jobs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "providers/local/leases.h"

extern char** environ;

namespace kiln::local {

namespace {

fs::path JobDir(const fs::path& root, const std::string& id) { return root / "jobs" / id; }

// Queue entries are ROOT/queue/<13-digit ms>-<6-digit counter>-<id>: their
// names sort in arrival order.
std::vector<fs::path> QueueEntries(const fs::path& root) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(root / "queue", ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() != ".tmp") out.push_back(it->path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string EntryId(const fs::path& entry) {
  std::string name = entry.filename().string();
  size_t a = name.find('-');
  size_t b = a == std::string::npos ? a : name.find('-', a + 1);
  return b == std::string::npos ? "" : name.substr(b + 1);
}

std::vector<int> Ints(const json& j) {
  std::vector<int> out;
  if (j.is_array())
    for (const auto& v : j)
      if (v.is_number_integer()) out.push_back(v.get<int>());
  return out;
}

pid_t ReadPid(const fs::path& p) {
  std::string s = ReadText(p);
  try {
    return s.empty() ? 0 : static_cast<pid_t>(std::stol(s));
  } catch (...) {
    return 0;
  }
}

// Starts the supervisor of job `id` holding `lease`.
bool StartSupervisor(const fs::path& root, const std::string& id, const Lease& lease, System& sys,
                     std::string* error) {
  fs::path dir = JobDir(root, id);
  SpawnSpec spec;
  std::string fds;
  for (int fd : lease.fds) fds += (fds.empty() ? "" : ",") + std::to_string(fd);
  spec.argv = {SupervisorExe(), "__local-supervise", root.string(), id, fds.empty() ? "-" : fds};
  spec.keep_fds = lease.fds;
  spec.log_path = (dir / "log").string();
  WriteText(dir / "gpus.json", json(lease.indices).dump());
  pid_t pid = sys.SpawnDetached(spec, error);
  if (pid <= 0) return false;
  WriteText(dir / "pid", std::to_string(pid) + "\n");
  return true;
}

}  // namespace

JobStatus ReadJobStatus(const fs::path& dir, System& sys) {
  JobStatus s;
  json r = ReadJson(dir / "result.json");
  if (r.is_object()) {
    s.exit_code = r.value("exit_code", json());
    s.reason = Str(r, "reason");
    s.attempts = static_cast<int>(Int(r, "attempts", 1));
    bool ok = s.exit_code.is_number_integer() && s.exit_code.get<int>() == 0;
    s.status = ok ? "succeeded" : s.reason == "stopped" ? "cancelled" : "failed";
    return s;
  }
  if (fs::exists(dir / "queued")) {
    s.status = "pending";
    return s;
  }
  pid_t pid = ReadPid(dir / "pid");
  // The supervisor, or (after it was killed) the job's processes it left.
  if (pid > 0 && sys.SessionAlive(pid)) {
    s.status = "running";
    return s;
  }
  // Neither running nor a result: killed outside kiln (or the machine
  // rebooted).
  s.status = fs::exists(dir / "cancelled") ? "cancelled" : "failed";
  s.reason = "killed";
  return s;
}

bool Enqueue(const fs::path& root, const std::string& id, System& sys) {
  static std::mutex mu;
  static int counter = 0;
  std::error_code ec;
  fs::create_directories(root / "queue", ec);
  char name[64];
  {
    std::lock_guard<std::mutex> lock(mu);
    snprintf(name, sizeof name, "%013lld-%06d-", static_cast<long long>(sys.NowMs()), ++counter % 1000000);
  }
  if (!WriteText(JobDir(root, id) / "queued", "")) return false;
  return WriteText(root / "queue" / (name + id), id + "\n");
}

bool Dequeue(const fs::path& root, const std::string& id) {
  FileLock lock(root / "queue.lock");
  bool found = false;
  std::error_code ec;
  for (const auto& e : QueueEntries(root))
    if (EntryId(e) == id) found = fs::remove(e, ec);
  return found;
}

int QueuePosition(const fs::path& root, const std::string& id) {
  int i = 0;
  for (const auto& e : QueueEntries(root)) {
    ++i;
    if (EntryId(e) == id) return i;
  }
  return 0;
}

void Dispatch(const fs::path& root, System& sys) {
  FileLock lock(root / "queue.lock");
  // FIFO per GPU pool: a job that does not fit holds back the jobs queued
  // after it that draw from the same GPUs (no overtaking by small jobs).
  std::set<std::string> blocked;
  std::error_code ec;
  for (const auto& entry : QueueEntries(root)) {
    std::string id = EntryId(entry);
    fs::path dir = JobDir(root, id);
    json spec = ReadJson(dir / "spec.json");
    if (!spec.is_object()) {
      fs::remove(entry, ec);  // its job was deleted
      continue;
    }
    std::vector<int> pool = Ints(spec.value("pool", json::array()));
    std::string key = json(pool).dump();
    if (blocked.count(key)) continue;
    int need = static_cast<int>(Int(spec, "gpus_per_node", 0) * Int(spec, "nodes", 1));
    Lease lease;
    if (!TakeGpus(root, pool, need, Str(spec, "address") + " (job " + id + ")", &lease)) {
      blocked.insert(key);
      continue;
    }
    std::string error;
    if (!StartSupervisor(root, id, lease, sys, &error)) {
      WriteText(dir / "result.json",
                json({{"exit_code", nullptr}, {"reason", "cannot start: " + error}, {"attempts", 0}}).dump());
    }
    CloseLease(&lease);
    fs::remove(dir / "queued", ec);
    fs::remove(entry, ec);
  }
}

std::string SupervisorExe() {
  if (const char* e = std::getenv("KILN_EXE"); e && *e) return e;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && self.filename() == "kiln") return self.string();
  // Embedded elsewhere (test programs in the build tree): the kiln beside
  // it or one folder up, else the one on PATH.
  if (!ec)
    for (const fs::path& c : {self.parent_path() / "kiln", self.parent_path().parent_path() / "kiln"})
      if (access(c.c_str(), X_OK) == 0 && fs::is_regular_file(c, ec)) return c.string();
  return "kiln";
}

// ------------------------------------------------------------ supervisor

namespace {

volatile sig_atomic_t g_stop = 0;
void OnStop(int) { g_stop = 1; }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int FreeTcpPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

void Note(const std::string& text) {
  std::string line = "kiln: " + text + "\n";
  ssize_t ignored = write(2, line.data(), line.size());
  (void)ignored;
}

struct Attempt {
  int exit_code = 0;
  std::string reason;  // "", "max_runtime", "stopped"
};

// One run of every node's process; the first failure stops the others.
Attempt RunNodes(const json& spec, const std::vector<int>& gpus, int attempt) {
  int nodes = static_cast<int>(std::max<int64_t>(1, Int(spec, "nodes", 1)));
  int per = static_cast<int>(Int(spec, "gpus_per_node", 0));
  int64_t max_ms = Int(spec, "max_runtime_ms", 0);
  std::vector<std::string> argv_s;
  for (const auto& a : spec.value("argv", json::array())) argv_s.push_back(a.get<std::string>());
  std::map<std::string, std::string> base;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos) base[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  base.erase("KILN_EXE");
  json env_spec = spec.value("env", json::object());
  for (const auto& [k, v] : env_spec.items())
    base[k] = v.is_string() ? v.get<std::string>() : v.dump();
  int port = FreeTcpPort();
  std::string addrs;
  for (int r = 0; r < nodes; ++r) addrs += (r ? "," : "") + std::string("127.0.0.1");
  base["KILN_NUM_NODES"] = std::to_string(nodes);
  // The contract (docs/language.md): nodes x GPUs per node; nodes without GPUs.
  base["WORLD_SIZE"] = std::to_string(per > 0 ? nodes * per : nodes);
  base["KILN_NODE_ADDRS"] = addrs;
  base["KILN_MASTER_ADDR"] = base["MASTER_ADDR"] = "127.0.0.1";
  base["KILN_MASTER_PORT"] = base["MASTER_PORT"] = std::to_string(port);
  base["KILN_GPUS_PER_NODE"] = std::to_string(per);
  base["KILN_ATTEMPT"] = std::to_string(attempt);

  std::vector<pid_t> pids(nodes, 0);
  std::vector<int> codes(nodes, -1);
  int running = 0;
  for (int r = 0; r < nodes; ++r) {
    auto env = base;
    std::vector<int> mine;
    for (int i = r * per; i < (r + 1) * per && i < static_cast<int>(gpus.size()); ++i) mine.push_back(gpus[i]);
    env["CUDA_VISIBLE_DEVICES"] = Join(mine, ",");
    env["KILN_NODE_RANK"] = env["NODE_RANK"] = std::to_string(r);
    std::vector<std::string> env_s;
    for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
    std::vector<char*> envp, argv;
    for (auto& s : env_s) envp.push_back(s.data());
    envp.push_back(nullptr);
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      setpgid(0, 0);
      signal(SIGTERM, SIG_DFL);
      signal(SIGINT, SIG_DFL);
      signal(SIGHUP, SIG_DFL);
      execvpe(argv[0], argv.data(), envp.data());
      std::string msg = "kiln: cannot run `" + argv_s[0] + "`: " + strerror(errno) + "\n";
      ssize_t ignored = write(2, msg.data(), msg.size());
      (void)ignored;
      _exit(127);
    }
    if (pid > 0) {
      setpgid(pid, pid);
      pids[r] = pid;
      ++running;
    } else {
      codes[r] = 127;
    }
  }
  Attempt out;
  int64_t start = NowMs(), kill_at = 0;
  bool stopping = false;
  auto stop_all = [&](int sig) {
    for (int r = 0; r < nodes; ++r)
      if (pids[r] > 0 && codes[r] < 0) kill(-pids[r], sig);
  };
  int first_failure = -1;
  for (int r = 0; r < nodes; ++r)
    if (codes[r] > 0 && first_failure < 0) first_failure = r;
  while (running > 0) {
    int st = 0;
    pid_t w;
    while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
      for (int r = 0; r < nodes; ++r) {
        if (pids[r] != w) continue;
        codes[r] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        --running;
        if (codes[r] != 0 && first_failure < 0 && !stopping) {
          first_failure = r;
          if (nodes > 1) Note("node " + std::to_string(r) + " exited with " + std::to_string(codes[r]) +
                              "; stopping the other nodes");
        }
      }
    }
    if (running == 0) break;
    int64_t now = NowMs();
    if (!stopping && g_stop) {
      out.reason = "stopped";
      stopping = true;
    } else if (!stopping && max_ms > 0 && now - start >= max_ms) {
      out.reason = "max_runtime";
      Note("the job ran longer than max_runtime (" + std::to_string(max_ms / 1000) + "s); stopping it");
      stopping = true;
    } else if (!stopping && first_failure >= 0) {
      stopping = true;
    }
    if (stopping && kill_at == 0) {
      stop_all(SIGTERM);
      kill_at = now + 10000;
    } else if (stopping && now >= kill_at) {
      stop_all(SIGKILL);
    }
    usleep(50 * 1000);
  }
  out.exit_code = first_failure >= 0 ? codes[first_failure] : 0;
  if (!out.reason.empty() && out.exit_code == 0) out.exit_code = 143;
  return out;
}

}  // namespace

int SupervisorMain(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: kiln __local-supervise ROOT JOB_ID FDS\n");
    return 2;
  }
  fs::path root = argv[2];
  std::string id = argv[3];
  std::vector<int> fds;
  for (const char* p = argv[4]; *p && *p != '-';) {
    fds.push_back(atoi(p));
    const char* comma = strchr(p, ',');
    if (!comma) break;
    p = comma + 1;
  }
  struct sigaction sa {};
  sa.sa_handler = OnStop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  fs::path dir = JobDir(root, id);
  json spec = ReadJson(dir / "spec.json");
  std::vector<int> gpus = Ints(ReadJson(dir / "gpus.json"));
  int retries = static_cast<int>(std::max<int64_t>(0, Int(spec, "retries", 0)));
  Attempt a;
  int attempt = 1;
  if (!spec.is_object()) {
    a.exit_code = 127;
    a.reason = "no spec";
  } else {
    for (;; ++attempt) {
      if (attempt > 1) Note("attempt " + std::to_string(attempt) + " of " + std::to_string(retries + 1));
      a = RunNodes(spec, gpus, attempt);
      if (a.exit_code == 0 || !a.reason.empty() || g_stop || attempt > retries) break;
      Note("attempt " + std::to_string(attempt) + " failed with exit status " + std::to_string(a.exit_code) +
           "; retrying");
    }
  }
  json result = {{"exit_code", a.exit_code}, {"reason", a.reason}, {"attempts", attempt}};
  if (fs::is_directory(dir)) WriteText(dir / "result.json", result.dump());
  // The leases go with our descriptors (the node processes have exited);
  // then the queue moves on.
  for (int fd : fds) close(fd);
  if (!g_stop) Dispatch(root, *RealSystem());
  return 0;
}

}  // namespace kiln::local
