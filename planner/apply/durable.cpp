#include "planner/apply/durable.h"

namespace kiln::planner {

namespace {

// A background thread's loop: waits for queued items, takes them all, hands
// them to `process` without the lock, then to `after` under it; returns once
// stopping with nothing left.
template <typename Item, typename Process, typename After>
void BatchLoop(std::mutex& mu, std::condition_variable& cv, const bool& stop, std::vector<Item>& queue,
               Process process, After after) {
  std::unique_lock<std::mutex> lock(mu);
  while (true) {
    cv.wait(lock, [&] { return stop || !queue.empty(); });
    if (queue.empty()) return;  // stopping, nothing left
    std::vector<Item> batch;
    batch.swap(queue);
    lock.unlock();
    auto result = process(batch);
    lock.lock();
    after(batch, result);
  }
}

// Asks a BatchLoop thread to stop once its queue is empty, and joins it.
void StopLoop(std::mutex& mu, std::condition_variable& cv, bool& stop, std::thread& thread) {
  if (!thread.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
    cv.notify_one();
  }
  thread.join();
}

}  // namespace

// ---- IntentSyncer ----

IntentSyncer::IntentSyncer(state::IntentJournal* journal, size_t nodes, IntentOf intent_of,
                           SharedDiagnostics& diags)
    : journal_(journal), intent_of_(std::move(intent_of)), diags_(diags), intent_(nodes, IntentState::kNone),
      sent_(nodes, 0) {}

void IntentSyncer::Start() {
  if (journal_ && !intent_.empty()) thread_ = std::thread([this] { Loop(); });
}

void IntentSyncer::Announce(const std::vector<size_t>& nodes) {
  if (nodes.empty() || !journal_) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t m : nodes) {
    if (intent_[m] != IntentState::kNone) continue;
    intent_[m] = IntentState::kQueued;
    queue_.push_back(m);
  }
  work_cv_.notify_one();
}

void IntentSyncer::Loop() {
  BatchLoop(
      mu_, work_cv_, stop_, queue_,
      [this](const std::vector<size_t>& batch) {
        // One write per record, one fdatasync for the batch (and for any
        // record other writers added meanwhile).
        Diagnostics d;
        bool ok = true;
        for (size_t m : batch) ok = journal_->Announce(intent_of_(m), d) != 0 && ok;
        return ok && journal_->Sync(d);
      },
      [this](const std::vector<size_t>& batch, bool ok) {
        // A failed node's own worker retries with BeginCreate, which reports.
        for (size_t m : batch) intent_[m] = ok ? IntentState::kDurable : IntentState::kFailed;
        durable_cv_.notify_all();
      });
}

bool IntentSyncer::Durable(size_t node) {
  if (!journal_) return true;
  {
    std::unique_lock<std::mutex> lock(mu_);
    durable_cv_.wait(lock, [&] { return intent_[node] != IntentState::kQueued; });
    if (intent_[node] == IntentState::kDurable) return true;
    intent_[node] = IntentState::kBegun;
  }
  Diagnostics d;
  if (journal_->BeginCreate(intent_of_(node), d)) return true;
  diags_.Append(d);
  return false;
}

void IntentSyncer::Stop() { StopLoop(mu_, work_cv_, stop_, thread_); }

void IntentSyncer::CloseUnsent(const std::function<std::string(size_t)>& address_of) {
  if (!journal_) return;
  for (size_t i = 0; i < intent_.size(); ++i) {
    if (intent_[i] == IntentState::kNone || intent_[i] == IntentState::kFailed || sent_[i]) continue;
    Diagnostics d;
    journal_->Complete(address_of(i), d);
  }
}

// ---- StateSaver ----

void StateSaver::Start() { thread_ = std::thread([this] { Loop(); }); }

void StateSaver::Commit(const std::string& address, SourceRange range, std::optional<state::ResourceState> rs,
                        bool complete_journal) {
  {
    std::lock_guard<std::mutex> lock(applied_mu_);
    applied_[address] = std::move(rs);
  }
  Enqueue({address, range, complete_journal, ""});
}

void StateSaver::RemoveDeposed(const std::string& address, SourceRange range, const std::string& key) {
  Enqueue({address, range, false, key});
}

std::optional<state::ResourceState> StateSaver::CurrentOf(const std::string& address) {
  {
    std::lock_guard<std::mutex> lock(applied_mu_);
    auto it = applied_.find(address);
    if (it != applied_.end()) return it->second;
  }
  std::optional<state::ResourceState> out;
  store_->Read([&](const state::State& s) {
    if (const auto* r = s.Find(address)) out = *r;
  });
  return out;
}

state::State StateSaver::Snapshot() {
  state::State snapshot = store_->Current();
  std::lock_guard<std::mutex> lock(applied_mu_);
  for (const auto& [a, r] : applied_) {
    if (r) snapshot.Upsert(*r);
    else snapshot.Remove(a);
  }
  return snapshot;
}

void StateSaver::Enqueue(Item item) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(std::move(item));
  cv_.notify_one();
}

void StateSaver::Loop() {
  BatchLoop(
      mu_, cv_, stop_, queue_,
      [this](const std::vector<Item>& batch) {
        SaveBatch(batch);
        return true;
      },
      [](const std::vector<Item>&, bool) {});
}

// One atomic write for everything completed since the last one.
void StateSaver::SaveBatch(const std::vector<Item>& batch) {
  Diagnostics d;
  bool ok = store_->Update(
      [&](state::State& s) {
        std::lock_guard<std::mutex> l(applied_mu_);
        for (const Item& item : batch) {
          if (!item.remove_deposed.empty()) {
            s.RemoveDeposed(item.address, item.remove_deposed);
            continue;
          }
          const auto& latest = applied_[item.address];
          if (latest) s.Upsert(*latest);
          else s.Remove(item.address);
        }
      },
      d);
  if (!ok) {
    failed_ = true;
    Diagnostics errors = d;
    for (const Item& item : batch)
      errors.Error("E0906", item.range, item.address + ": could not save state after the operation");
    diags_.Append(errors);
    return;
  }
  if (!journal_) return;
  for (const Item& item : batch) {
    if (!item.complete_journal) continue;
    Diagnostics jd;
    journal_->Complete(item.address, jd);
  }
}

void StateSaver::Stop() { StopLoop(mu_, cv_, stop_, thread_); }

}  // namespace kiln::planner
