// The apply walk's durable writes, apart from its scheduling (apply.cpp):
//  - IntentSyncer: a create's begin record in the intent journal, written
//    ahead of the create's turn and synced in groups by a background thread,
//    so that no worker makes a journal syscall on the critical path; the
//    guarantee (durable before the create is sent) is unchanged.
//  - StateSaver: the walk's results by address (read by dependents at once)
//    and one background writer that folds everything completed since its
//    last write into one atomic state write; a create's journal record is
//    completed only once a write holding its result is durable.
// See docs/state.md, "Apply and durability".
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "compiler/diag/diagnostics.h"
#include "planner/state/state.h"

namespace kiln::planner {

// The walk's diagnostics, appended to from worker and writer threads.
class SharedDiagnostics {
 public:
  explicit SharedDiagnostics(Diagnostics& diags) : diags_(diags) {}
  void Append(const Diagnostics& d) {
    std::lock_guard<std::mutex> lock(mu_);
    diags_.Append(d);
  }
  void Error(const std::string& code, SourceRange range, const std::string& message) {
    std::lock_guard<std::mutex> lock(mu_);
    diags_.Error(code, range, message);
  }

 private:
  Diagnostics& diags_;
  std::mutex mu_;
};

// Where a create's intent record is.
enum class IntentState : char {
  kNone,     // not announced
  kQueued,   // handed to the syncer
  kDurable,  // written and synced by the syncer
  kFailed,   // the syncer could not write it (the worker retries and reports)
  kBegun,    // written by the worker itself (BeginCreate)
};

class IntentSyncer {
 public:
  using IntentOf = std::function<state::JournalEntry(size_t node)>;
  // `journal` may be null: then nothing is journaled and Durable is true.
  IntentSyncer(state::IntentJournal* journal, size_t nodes, IntentOf intent_of, SharedDiagnostics& diags);
  ~IntentSyncer() { Stop(); }

  // Starts the background thread.
  void Start();
  // Hands `nodes` to the syncer: their begin records are written and synced
  // ahead of their turn.
  void Announce(const std::vector<size_t>& nodes);
  // The node's intent, durable, before its create is sent: usually written
  // ahead and already synced; else written and synced now. False (reported)
  // when it could not be written.
  bool Durable(size_t node);
  // The create of `node` went to the provider.
  void MarkSent(size_t node) { sent_[node] = 1; }
  // Stops the thread; then closes the begun records of creates that were
  // never sent (nothing to recover for them).
  void Stop();
  void CloseUnsent(const std::function<std::string(size_t)>& address_of);

 private:
  void Loop();

  state::IntentJournal* journal_;
  IntentOf intent_of_;
  SharedDiagnostics& diags_;
  std::vector<IntentState> intent_;
  std::vector<char> sent_;
  std::vector<size_t> queue_;
  std::mutex mu_;
  std::condition_variable work_cv_;     // the syncer waits for work here
  std::condition_variable durable_cv_;  // workers wait for their intent here
  bool stop_ = false;
  std::thread thread_;
};

class StateSaver {
 public:
  StateSaver(state::StateStore* store, state::IntentJournal* journal, SharedDiagnostics& diags)
      : store_(store), journal_(journal), diags_(diags) {}
  ~StateSaver() { Stop(); }

  void Start();
  // Records the new state of `address` (nullopt: gone); the writer saves
  // it, and completes the address's journal record once it is durable when
  // `complete_journal`.
  void Commit(const std::string& address, SourceRange range, std::optional<state::ResourceState> rs,
              bool complete_journal);
  // A deposed object of `address` was deleted: its record goes.
  void RemoveDeposed(const std::string& address, SourceRange range, const std::string& key);
  // The latest known state of `address`: this walk's result, else the store's.
  std::optional<state::ResourceState> CurrentOf(const std::string& address);
  // The store's state with this walk's results laid over it.
  state::State Snapshot();
  // Writes what is left and stops the thread.
  void Stop();
  bool failed() const { return failed_; }

 private:
  struct Item {
    std::string address;
    SourceRange range;
    bool complete_journal = false;  // a create: close its intent once saved
    std::string remove_deposed;     // a deposed object deleted: its key
  };
  void Enqueue(Item item);
  void Loop();
  void SaveBatch(const std::vector<Item>& batch);

  state::StateStore* store_;
  state::IntentJournal* journal_;
  SharedDiagnostics& diags_;
  // What this walk has done, by address (nullopt: deleted).
  std::mutex applied_mu_;
  std::map<std::string, std::optional<state::ResourceState>> applied_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Item> queue_;
  bool stop_ = false;
  std::thread thread_;
  std::atomic<bool> failed_{false};
};

}  // namespace kiln::planner
