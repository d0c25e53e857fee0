// Training jobs of the local provider: a first-in, first-out queue under
// ROOT/queue and a supervisor per started job.
//
// A job is ROOT/jobs/<id>/ with spec.json (what to run, on how many nodes
// and GPUs, from which GPU pool). Dispatch() starts queued jobs, oldest
// first, as far as their GPUs are free: it takes the GPU leases and starts
// `kiln __local-supervise ROOT ID FDS` detached, handing it the lock
// descriptors. The supervisor runs the job's node processes (they inherit
// the leases too), kills them at max_runtime, retries failures, records
// result.json, lets its leases go and calls Dispatch() itself: the queue
// moves on with no kiln process running.
#pragma once

#include <string>

#include "providers/local/system.h"
#include "providers/local/util.h"

namespace kiln::local {

// Job states as the provider reports them.
struct JobStatus {
  std::string status;  // pending, running, succeeded, failed, cancelled
  json exit_code;      // int or null
  std::string reason;  // "max_runtime", "stopped", "killed" (no result recorded), ""
  int attempts = 0;
};
JobStatus ReadJobStatus(const fs::path& job_dir, System& sys);

// Puts job `id` (its spec.json written) at the end of the queue.
bool Enqueue(const fs::path& root, const std::string& id, System& sys);
// Removes job `id` from the queue (if it waits there); false if it was
// started meanwhile.
bool Dequeue(const fs::path& root, const std::string& id);
// Starts what the queue can start now. Safe to call from any process at
// any time (a lock serialises dispatchers).
void Dispatch(const fs::path& root, System& sys);
// Queue position (1 = next) of job `id`, 0 when not queued.
int QueuePosition(const fs::path& root, const std::string& id);

// The program that runs supervisors: $KILN_EXE, else this executable.
std::string SupervisorExe();
// `kiln __local-supervise ROOT ID FDS` (hidden): runs one job.
int SupervisorMain(int argc, char** argv);

}  // namespace kiln::local
