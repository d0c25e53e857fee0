// A JSON-RPC 2.0 client over a child process's stdin/stdout. One call at a
// time per process (calls from several threads are serialized); every call
// has a deadline enforced with poll(), and a plugin that misses it is killed.
// Nothing here throws or blocks without a deadline.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "providers/rpc/framing.h"

namespace kiln::rpc {

struct RpcOptions {
  std::string name;                 // provider type, for messages ("files")
  std::string path;                 // the executable
  int shutdown_timeout_ms = 2000;   // how long `shutdown` + exit may take
  bool forward_stderr = false;      // copy stderr lines to kiln's stderr (KILN_LOG)
  std::string log_path;             // append stderr lines here when not empty
  size_t stderr_lines_kept = 20;
  // After Cancel(), how long a call in flight may take to answer before
  // the plugin is killed.
  int cancel_grace_ms = 5000;
};

struct RpcResult {
  bool ok = false;
  nlohmann::json result;   // the `result` member when ok
  std::string error;       // one line naming the provider and the operation
  std::string stderr_tail; // the plugin's last stderr lines, for details
};

using NotificationFn = std::function<void(const std::string& method, const nlohmann::json& params)>;

class RpcClient {
 public:
  // Starts the executable; null and *error on failure.
  static std::unique_ptr<RpcClient> Start(const RpcOptions& options, std::string* error);
  ~RpcClient();

  // Sends one request and waits for its response, passing notifications
  // that arrive meanwhile to `on_notification`. `operation` names the call
  // in errors ("apply of files.file.a").
  RpcResult Call(const std::string& method, const nlohmann::json& params,
                 const std::string& operation, int timeout_ms,
                 const NotificationFn& on_notification = nullptr);

  // Aborts the calls made before it (safe from any thread, returns at
  // once): the one in flight gets a `$/cancelRequest` notification
  // `{id}` and has cancel_grace_ms to answer (else the plugin is killed);
  // those still waiting to be sent fail without being sent.
  void Cancel();

  // Sends `shutdown`, closes stdin and waits briefly; kills if needed.
  void Shutdown();

  bool alive() const;
  pid_t pid() const { return pid_; }
  std::string StderrTail() const;

 private:
  explicit RpcClient(RpcOptions options) : options_(std::move(options)) {}
  void DrainStderr(bool final);
  void AddStderrLine(const std::string& line);
  // Marks the process dead (killing it if still running); returns why.
  std::string Die(const std::string& reason);
  std::string Prefix() const { return "provider `" + options_.name + "`"; }
  RpcResult Fail(const std::string& message);

  RpcOptions options_;
  pid_t pid_ = -1;
  int in_fd_ = -1, out_fd_ = -1, err_fd_ = -1;
  mutable std::mutex call_mu_;   // one call at a time
  mutable std::mutex stderr_mu_;
  std::string stderr_partial_;
  std::deque<std::string> stderr_tail_;
  FrameReader reader_;
  int64_t next_id_ = 0;
  std::atomic<uint64_t> cancel_gen_{0};
  int wake_fds_[2] = {-1, -1};  // Cancel() writes a byte to wake poll()
  bool dead_ = false;
  std::string dead_reason_;
};

}  // namespace kiln::rpc
