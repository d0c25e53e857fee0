#include "providers/local/system.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "providers/local/util.h"
#include "providers/rpc/process.h"

extern char** environ;

namespace kiln::local {

namespace {

// The fields of /proc/PID/stat after the command name.
bool ProcStat(pid_t pid, char* state, pid_t* session) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  size_t close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(text.substr(close + 2));
  long ppid, pgrp, sid;
  if (!(rest >> *state >> ppid >> pgrp >> sid)) return false;
  *session = static_cast<pid_t>(sid);
  return true;
}

class Real : public System {
 public:
  bool RunCapture(const std::vector<std::string>& argv, int timeout_ms, std::string* out,
                  int* exit_code) override {
    // Search PATH ourselves: SpawnWithPipes takes a path.
    std::string path = argv[0];
    if (path.find('/') == std::string::npos) {
      path.clear();
      const char* env_path = std::getenv("PATH");
      std::stringstream ss(env_path ? env_path : "/usr/bin:/bin");
      std::string dir;
      while (std::getline(ss, dir, ':')) {
        std::string candidate = (dir.empty() ? "." : dir) + "/" + argv[0];
        if (access(candidate.c_str(), X_OK) == 0) {
          path = candidate;
          break;
        }
      }
      if (path.empty()) return false;
    }
    rpc::ChildProcess child;
    if (!rpc::SpawnWithPipes(path, argv, &child).empty()) return false;
    close(child.in_fd);
    int64_t deadline = SteadyMs() + timeout_ms;
    int fds_open[2] = {child.out_fd, child.err_fd};
    char buf[4096];
    while (fds_open[0] >= 0 || fds_open[1] >= 0) {
      pollfd fds[2] = {{fds_open[0], POLLIN, 0}, {fds_open[1], POLLIN, 0}};
      int left = static_cast<int>(deadline - SteadyMs());
      if (left <= 0 || poll(fds, 2, left) <= 0) break;
      for (int i = 0; i < 2; ++i) {
        if (fds_open[i] < 0 || !fds[i].revents) continue;
        ssize_t n = read(fds_open[i], buf, sizeof buf);
        if (n > 0 && i == 0) out->append(buf, n);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
          close(fds_open[i]);
          fds_open[i] = -1;
        }
      }
    }
    for (int fd : fds_open)
      if (fd >= 0) close(fd);
    int status = 0;
    int left = static_cast<int>(deadline - SteadyMs());
    if (!rpc::WaitWithTimeout(child.pid, left > 0 ? left : 0, &status)) {
      rpc::KillAndReap(child.pid, &status);
      return false;
    }
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }

  pid_t SpawnDetached(const SpawnSpec& spec, std::string* error) override {
    if (spec.argv.empty()) {
      *error = "empty command";
      return -1;
    }
    // Everything the grandchild needs is prepared before fork: only
    // async-signal-safe calls happen after it.
    std::map<std::string, std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      size_t eq = kv.find('=');
      if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : spec.env) env[k] = v;
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp, argv;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = spec.argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    int log_fd = open(spec.log_path.empty() ? "/dev/null" : spec.log_path.c_str(),
                      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      *error = "cannot open " + spec.log_path + ": " + strerror(errno);
      return -1;
    }
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
      *error = strerror(errno);
      close(log_fd);
      close(null_fd);
      return -1;
    }
    const char* cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
    const std::vector<int> keep = spec.keep_fds;
    // Every other descriptor is closed in the process (a proxy's sockets,
    // say, must not outlive it in a replica it started).
    std::vector<int> kept = keep;
    kept.push_back(report[1]);
    std::sort(kept.begin(), kept.end());
    const char* file = argv[0];
    pid_t mid = fork();
    if (mid == 0) {
      // Intermediate child: fork the real process, report its pid and
      // exit, so that the process is reparented to init (never our zombie).
      pid_t pid = fork();
      if (pid == 0) {
        // Its own session, with its pid as the session id (KillSession).
        setsid();
        dup2(null_fd, 0);
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        unsigned from = 3;
        for (int fd : kept) {
          if (fd < 0 || static_cast<unsigned>(fd) < from) continue;
          if (static_cast<unsigned>(fd) > from) close_range(from, fd - 1, 0);
          from = fd + 1;
        }
        close_range(from, ~0U, 0);
        for (int fd : keep) fcntl(fd, F_SETFD, 0);
        struct sigaction sa {};
        sa.sa_handler = SIG_DFL;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, nullptr);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        if (cwd && chdir(cwd) != 0) _exit(126);
        execvpe(file, argv.data(), envp.data());
        int e = errno;
        pid_t minus = -e;
        ssize_t ignored = write(report[1], &minus, sizeof minus);
        (void)ignored;
        _exit(127);
      }
      ssize_t ignored = write(report[1], &pid, sizeof pid);
      (void)ignored;
      _exit(0);
    }
    close(report[1]);
    close(log_fd);
    close(null_fd);
    if (mid < 0) {
      *error = strerror(errno);
      close(report[0]);
      return -1;
    }
    int status;
    waitpid(mid, &status, 0);
    // The pipe carries the pid (from the intermediate child) and, only if
    // exec failed, -errno (from the grandchild), in either order; it reaches
    // EOF once the grandchild has exec'd or exited.
    pid_t pid = -1, exec_error = 0, value;
    while (read(report[0], &value, sizeof value) == sizeof value) {
      if (value > 0) pid = value;
      else exec_error = -value;
    }
    close(report[0]);
    if (pid <= 0) {
      *error = "could not start the process";
      return -1;
    }
    if (exec_error != 0) {
      *error = "cannot run `" + spec.argv[0] + "`: " + strerror(exec_error);
      return -1;
    }
    return pid;
  }

  bool Alive(pid_t pid) override {
    if (pid <= 0 || kill(pid, 0) != 0) return false;
    char state;
    pid_t sid;
    if (!ProcStat(pid, &state, &sid)) return false;
    return state != 'Z' && state != 'X';
  }

  bool SessionAlive(pid_t sid) override {
    if (Alive(sid)) return true;
    bool alive = false;
    ForSession(sid, [&](pid_t, char state) { alive = alive || (state != 'Z' && state != 'X'); });
    return alive;
  }

  void KillSession(pid_t sid, int sig) override {
    ForSession(sid, [&](pid_t pid, char) { kill(pid, sig); });
  }

  // Calls f(pid, state) for every process of session sid.
  template <typename F>
  void ForSession(pid_t sid, F f) {
    if (sid <= 0) return;
    // Members may have left the session leader's process group (timeout(1)
    // makes its own), so look at every process's session.
    DIR* d = opendir("/proc");
    if (!d) return;
    while (dirent* e = readdir(d)) {
      char* end;
      long pid = strtol(e->d_name, &end, 10);
      if (*end || pid <= 0) continue;
      char state;
      pid_t s;
      if (ProcStat(static_cast<pid_t>(pid), &state, &s) && s == sid) f(static_cast<pid_t>(pid), state);
    }
    closedir(d);
  }

  int64_t NowMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  void SleepMs(int64_t ms) override { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

  int HttpGet(const std::string& url, int timeout_ms) override {
    static const std::regex re(R"re(^http://([^/:]+)(?::([0-9]+))?(/.*)?$)re");
    std::smatch m;
    if (!std::regex_match(url, m, re)) return -1;
    std::string host = m[1], port = m[2].matched ? std::string(m[2]) : "80";
    std::string path = m[3].matched ? std::string(m[3]) : "/";
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || !res) return -1;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = fd < 0 ? -1 : connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (fd < 0) return -1;
    int64_t deadline = SteadyMs() + timeout_ms;
    auto wait_for = [&](short events) {
      pollfd p{fd, events, 0};
      int left = static_cast<int>(deadline - SteadyMs());
      return left > 0 && poll(&p, 1, left) == 1 && !(p.revents & POLLERR);
    };
    if (rc != 0 && (errno != EINPROGRESS || !wait_for(POLLOUT))) {
      close(fd);
      return -1;
    }
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      close(fd);
      return -1;
    }
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
    size_t sent = 0;
    while (sent < req.size()) {
      if (!wait_for(POLLOUT)) break;
      ssize_t n = send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += n;
    }
    std::string resp;
    char buf[1024];
    while (resp.find("\r\n") == std::string::npos && resp.size() < 8192 && wait_for(POLLIN)) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      resp.append(buf, n);
    }
    close(fd);
    static const std::regex status_re(R"re(^HTTP/[0-9.]+ ([0-9]{3}))re");
    std::smatch sm;
    if (!std::regex_search(resp, sm, status_re)) return -1;
    return std::stoi(sm[1]);
  }

  int FreePort() override {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    int port = -1;
    socklen_t len = sizeof addr;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port = ntohs(addr.sin_port);
    close(fd);
    return port;
  }
};

}  // namespace

bool System::PortFree(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  // As servers do: a port whose last connections linger in TIME_WAIT is free.
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return free;
}

std::shared_ptr<System> RealSystem() { return std::make_shared<Real>(); }

}  // namespace kiln::local
