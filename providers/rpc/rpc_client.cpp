#include "providers/rpc/rpc_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <iostream>

#include "providers/rpc/process.h"

namespace kiln::rpc {

using json = nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

std::string Seconds(int ms) {
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

std::unique_ptr<RpcClient> RpcClient::Start(const RpcOptions& options, std::string* error) {
  ChildProcess child;
  std::string why = SpawnWithPipes(options.path, {options.path}, &child);
  if (!why.empty()) {
    *error = "cannot start provider `" + options.name + "` from " + options.path + ": " + why;
    return nullptr;
  }
  std::unique_ptr<RpcClient> client(new RpcClient(options));
  client->pid_ = child.pid;
  client->in_fd_ = child.in_fd;
  client->out_fd_ = child.out_fd;
  client->err_fd_ = child.err_fd;
  if (pipe2(client->wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) client->wake_fds_[0] = client->wake_fds_[1] = -1;
  return client;
}

RpcClient::~RpcClient() {
  Shutdown();
  CloseFd(wake_fds_[0]);
  CloseFd(wake_fds_[1]);
}

void RpcClient::Cancel() {
  ++cancel_gen_;
  if (wake_fds_[1] >= 0) {
    char b = 1;
    ssize_t n = write(wake_fds_[1], &b, 1);  // full pipe: a wake-up is pending anyway
    (void)n;
  }
}

bool RpcClient::alive() const {
  std::lock_guard<std::mutex> lock(call_mu_);
  return !dead_;
}

std::string RpcClient::StderrTail() const {
  std::lock_guard<std::mutex> lock(stderr_mu_);
  std::string out;
  for (const auto& l : stderr_tail_) out += l + "\n";
  if (!stderr_partial_.empty()) out += stderr_partial_ + "\n";
  return out;
}

void RpcClient::AddStderrLine(const std::string& line) {
  // Called with stderr_mu_ held.
  stderr_tail_.push_back(line);
  while (stderr_tail_.size() > options_.stderr_lines_kept) stderr_tail_.pop_front();
  if (options_.forward_stderr) {
    std::string out = "[provider " + options_.name + "] " + line + "\n";
    std::cerr << out << std::flush;
  }
  if (!options_.log_path.empty()) {
    std::ofstream log(options_.log_path, std::ios::app);
    if (log) log << line << "\n";
  }
}

void RpcClient::DrainStderr(bool final) {
  if (err_fd_ < 0) return;
  char buf[4096];
  while (true) {
    ssize_t n = read(err_fd_, buf, sizeof buf);
    if (n > 0) {
      std::lock_guard<std::mutex> lock(stderr_mu_);
      stderr_partial_.append(buf, n);
      size_t nl;
      while ((nl = stderr_partial_.find('\n')) != std::string::npos) {
        AddStderrLine(stderr_partial_.substr(0, nl));
        stderr_partial_.erase(0, nl + 1);
      }
      // A plugin that writes megabytes without a newline gets cut into lines.
      if (stderr_partial_.size() > 8192) {
        AddStderrLine(stderr_partial_);
        stderr_partial_.clear();
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || final) {
      if (n == 0) {
        CloseFd(err_fd_);
        std::lock_guard<std::mutex> lock(stderr_mu_);
        if (!stderr_partial_.empty()) {
          AddStderrLine(stderr_partial_);
          stderr_partial_.clear();
        }
      }
    }
    return;  // EAGAIN: nothing more for now
  }
}

std::string RpcClient::Die(const std::string& reason) {
  if (!dead_) {
    dead_ = true;
    dead_reason_ = reason;
    if (pid_ > 0) {
      int status = 0;
      if (!WaitWithTimeout(pid_, 0, &status)) KillAndReap(pid_, &status);
      pid_ = -1;
    }
    DrainStderr(true);
    CloseFd(in_fd_);
    CloseFd(out_fd_);
    CloseFd(err_fd_);
  }
  return dead_reason_;
}

RpcResult RpcClient::Fail(const std::string& message) {
  RpcResult r;
  r.ok = false;
  r.stderr_tail = StderrTail();
  r.error = message;
  // The last line the plugin printed is usually the reason (a traceback's
  // final line, a panic message): put it right into the one-line error.
  std::string tail = r.stderr_tail;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  if (!tail.empty()) {
    size_t nl = tail.rfind('\n');
    r.error += "; last stderr: " + (nl == std::string::npos ? tail : tail.substr(nl + 1));
  }
  return r;
}

RpcResult RpcClient::Call(const std::string& method, const json& params,
                          const std::string& operation, int timeout_ms,
                          const NotificationFn& on_notification) {
  const uint64_t gen = cancel_gen_.load();
  std::lock_guard<std::mutex> lock(call_mu_);
  if (cancel_gen_.load() != gen) {
    RpcResult r;
    r.error = Prefix() + " did not run " + operation + ": cancelled before it was sent";
    return r;
  }
  if (dead_) {
    RpcResult r;
    r.error = Prefix() + " cannot run " + operation + ": it is no longer running (" +
              dead_reason_ + ")";
    r.stderr_tail = StderrTail();
    return r;
  }
  const int64_t id = ++next_id_;
  json request = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
  std::string pending = Frame(Dump(request));
  size_t written = 0;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);

  // What happened to the process, once stdout hit EOF or a write failed.
  auto crashed = [&]() {
    int status = 0;
    std::string how = "closed its output";
    if (WaitWithTimeout(pid_, 1000, &status)) {
      how = DescribeWaitStatus(status);
    } else {
      KillAndReap(pid_, &status);
      how = "closed its output; killed";
    }
    pid_ = -1;
    Die("crashed during " + operation + " (" + how + ")");
    return Fail(Prefix() + " crashed during " + operation + " (" + how + ")");
  };

  bool cancel_sent = false;
  while (true) {
    pollfd fds[4];
    int nfds = 0;
    int out_index = -1, err_index = -1, in_index = -1, wake_index = -1;
    if (wake_fds_[0] >= 0 && !cancel_sent) {
      wake_index = nfds;
      fds[nfds++] = {wake_fds_[0], POLLIN, 0};
    }
    if (out_fd_ >= 0) {
      out_index = nfds;
      fds[nfds++] = {out_fd_, POLLIN, 0};
    }
    if (err_fd_ >= 0) {
      err_index = nfds;
      fds[nfds++] = {err_fd_, POLLIN, 0};
    }
    if (written < pending.size() && in_fd_ >= 0) {
      in_index = nfds;
      fds[nfds++] = {in_fd_, POLLOUT, 0};
    }
    int wait_ms = RemainingMs(deadline);
    int ready = poll(fds, nfds, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0 || RemainingMs(deadline) == 0) {
      DrainStderr(false);
      std::string why = cancel_sent ? "did not stop " + operation + " within " +
                                          Seconds(options_.cancel_grace_ms) +
                                          " of being asked to cancel it, and was killed"
                                    : "did not answer " + operation + " within " +
                                          Seconds(timeout_ms) + " and was killed";
      Die(why);
      return Fail(Prefix() + " " + why);
    }
    if (err_index >= 0 && fds[err_index].revents) DrainStderr(false);
    if (wake_index >= 0 && fds[wake_index].revents) {
      char drain[64];
      while (read(wake_fds_[0], drain, sizeof drain) > 0) {
      }
      if (cancel_gen_.load() != gen) {
        // The JSON-RPC cancel notification (as in LSP); the plugin answers
        // the request soon, with an error or with what it had done.
        json note = {{"jsonrpc", "2.0"}, {"method", "$/cancelRequest"}, {"params", {{"id", id}}}};
        pending += Frame(Dump(note));
        cancel_sent = true;
        auto grace = Clock::now() + std::chrono::milliseconds(options_.cancel_grace_ms);
        if (grace < deadline) deadline = grace;
      }
    }
    if (in_index >= 0 && (fds[in_index].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = write(in_fd_, pending.data() + written, pending.size() - written);
      if (n > 0) {
        written += n;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        // EPIPE: the plugin is gone; its exit status tells why.
        return crashed();
      }
    }
    if (out_index < 0 || !(fds[out_index].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    char buf[65536];
    ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return crashed();
    }
    if (n == 0) {
      DrainStderr(false);
      return crashed();
    }
    reader_.Append(buf, n);
    while (true) {
      std::string body, error;
      auto res = reader_.Next(&body, &error);
      if (res == FrameReader::Result::kNeedMore) break;
      if (res == FrameReader::Result::kError) {
        std::string why = "sent malformed output during " + operation + ": " + error;
        Die(why);
        return Fail(Prefix() + " " + why);
      }
      json msg = json::parse(body, nullptr, false);
      if (msg.is_discarded() || !msg.is_object()) {
        std::string why = "sent malformed JSON during " + operation + ": \"" +
                          body.substr(0, 80) + "\"";
        Die(why);
        return Fail(Prefix() + " " + why);
      }
      if (msg.contains("method") && !msg.contains("id")) {
        if (on_notification && msg["method"].is_string()) {
          on_notification(msg["method"].get<std::string>(),
                          msg.contains("params") ? msg["params"] : json::object());
        }
        continue;
      }
      if (!msg.contains("id") || msg["id"] != json(id)) {
        // A response to something we did not ask (or a request to us, which
        // protocol 1 does not have): the stream can no longer be trusted.
        std::string why = "sent an unexpected message during " + operation + ": " +
                          Dump(msg).substr(0, 120);
        Die(why);
        return Fail(Prefix() + " " + why);
      }
      if (msg.contains("error")) {
        const json& e = msg["error"];
        std::string message = e.is_object() && e.contains("message") && e["message"].is_string()
                                   ? e["message"].get<std::string>()
                                   : Dump(e);
        std::string code = e.is_object() && e.contains("code") ? Dump(e["code"]) : "?";
        return Fail(Prefix() + " failed " + operation + ": " + message + " (JSON-RPC error " +
                    code + ")");
      }
      if (!msg.contains("result")) {
        std::string why = "answered " + operation + " with neither result nor error";
        return Fail(Prefix() + " " + why);
      }
      RpcResult r;
      r.ok = true;
      r.result = msg["result"];
      return r;
    }
  }
}

void RpcClient::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(call_mu_);
    if (dead_) return;
  }
  Call("shutdown", json::object(), "shutdown", options_.shutdown_timeout_ms);
  std::lock_guard<std::mutex> lock(call_mu_);
  if (dead_) return;
  CloseFd(in_fd_);  // EOF on stdin: a well-behaved plugin exits now
  int status = 0;
  if (pid_ > 0 && !WaitWithTimeout(pid_, options_.shutdown_timeout_ms, &status)) {
    KillAndReap(pid_, &status);
  }
  pid_ = -1;
  Die("shut down");
}

}  // namespace kiln::rpc
