// The local provider's seams: processes, the clock and HTTP, behind one
// small interface so tests can fake them. RealSystem() is the real thing
// (tested once against real processes and a real HTTP server).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kiln::local {

struct SpawnSpec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;  // added to (and overriding) kiln's environment
  std::string cwd;                          // "" = kiln's working directory
  std::string log_path;                     // stdout and stderr, appended
  // Descriptors (close-on-exec in kiln) the process inherits, with their
  // numbers: GPU lease locks handed over to their holder.
  std::vector<int> keep_fds;
};

class System {
 public:
  virtual ~System() = default;
  // Runs argv to completion and captures stdout; false if it could not be
  // run at all (not installed) or exceeded timeout_ms.
  virtual bool RunCapture(const std::vector<std::string>& argv, int timeout_ms, std::string* out,
                          int* exit_code) = 0;
  // Starts argv detached: its own session, stdin from /dev/null, not our
  // child (so it outlives kiln and never becomes our zombie). Returns its
  // pid (also its session id), or -1 with *error.
  virtual pid_t SpawnDetached(const SpawnSpec& spec, std::string* error) = 0;
  // Whether pid runs (and is not a zombie).
  virtual bool Alive(pid_t pid) = 0;
  // Whether any process of session sid runs (its leader may be gone).
  virtual bool SessionAlive(pid_t sid) { return Alive(sid); }
  // Sends sig to every process of session sid.
  virtual void KillSession(pid_t sid, int sig) = 0;
  virtual int64_t NowMs() = 0;
  virtual void SleepMs(int64_t ms) = 0;
  // GET url; the HTTP status, or -1 when nothing answered within timeout_ms.
  virtual int HttpGet(const std::string& url, int timeout_ms) = 0;
  // A TCP port on 127.0.0.1 that is free right now.
  virtual int FreePort() = 0;
  // Whether something could listen on `port` now (nothing listens on it on
  // any address). The real check binds it; fakes may override.
  virtual bool PortFree(int port);
};

std::shared_ptr<System> RealSystem();

}  // namespace kiln::local
