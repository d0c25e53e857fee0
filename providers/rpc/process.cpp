#include "providers/rpc/process.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <mutex>
#include <thread>

namespace kiln::rpc {

namespace {

void CloseIf(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

void IgnoreSigpipe() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, nullptr);
  });
}

std::string SpawnWithPipes(const std::string& path, const std::vector<std::string>& args,
                           ChildProcess* child) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return strerror(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (access(path.c_str(), X_OK) != 0) return "not executable (chmod +x it)";
  IgnoreSigpipe();

  // All ends close-on-exec, so that concurrent spawns do not leak each
  // other's pipes (a leaked write end would hide a plugin's EOF).
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, exec_err[2] = {-1, -1};
  auto close_all = [&] {
    for (int* p : {in, out, err, exec_err}) {
      CloseIf(p[0]);
      CloseIf(p[1]);
    }
  };
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) ||
      pipe2(exec_err, O_CLOEXEC)) {
    std::string why = strerror(errno);
    close_all();
    return "pipe: " + why;
  }
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) {
    std::string why = strerror(errno);
    close_all();
    return "fork: " + why;
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    setpgid(0, 0);
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execv(path.c_str(), argv.data());
    int e = errno;
    ssize_t ignored = write(exec_err[1], &e, sizeof e);
    (void)ignored;
    _exit(127);
  }
  setpgid(pid, pid);  // also from the parent, so a kill right away reaches the group
  CloseIf(in[0]);
  CloseIf(out[1]);
  CloseIf(err[1]);
  CloseIf(exec_err[1]);
  int e = 0;
  ssize_t n;
  do {
    n = read(exec_err[0], &e, sizeof e);
  } while (n < 0 && errno == EINTR);
  CloseIf(exec_err[0]);
  if (n == sizeof e) {
    int status = 0;
    waitpid(pid, &status, 0);
    close_all();
    return strerror(e);
  }
  for (int fd : {in[1], out[0], err[0]}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  child->pid = pid;
  child->in_fd = in[1];
  child->out_fd = out[0];
  child->err_fd = err[0];
  return "";
}

bool WaitWithTimeout(pid_t pid, int timeout_ms, int* status) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) {
      *status = 0;
      return true;  // not our child any more (already reaped)
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void KillAndReap(pid_t pid, int* status) {
  if (pid <= 0) return;
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  int s = 0;
  while (waitpid(pid, &s, 0) < 0 && errno == EINTR) {
  }
  if (status) *status = s;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) +
           (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
  }
  return "wait status " + std::to_string(status);
}

}  // namespace kiln::rpc
