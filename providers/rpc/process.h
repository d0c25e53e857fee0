// Child processes with pipes for the plugin host: spawn with stdin, stdout
// and stderr connected to us, in a process group of its own so that a kill
// reaches anything the plugin started.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace kiln::rpc {

struct ChildProcess {
  pid_t pid = -1;
  int in_fd = -1;   // our end of the child's stdin (non-blocking)
  int out_fd = -1;  // our end of the child's stdout (non-blocking)
  int err_fd = -1;  // our end of the child's stderr (non-blocking)
};

// Starts `path` with `args` (args[0] is argv[0]). Returns "" on success, or
// why it could not be started ("No such file or directory", "not executable").
std::string SpawnWithPipes(const std::string& path, const std::vector<std::string>& args,
                           ChildProcess* child);

// Waits up to `timeout_ms` for the child to exit; returns true and its wait
// status in *status if it did.
bool WaitWithTimeout(pid_t pid, int timeout_ms, int* status);

// Kills the child's process group with SIGKILL and reaps it.
void KillAndReap(pid_t pid, int* status);

// "exit status 3", "killed by signal 11 (SIGSEGV)".
std::string DescribeWaitStatus(int status);

// Makes writes to a closed pipe fail with EPIPE instead of killing kiln.
void IgnoreSigpipe();

}  // namespace kiln::rpc
