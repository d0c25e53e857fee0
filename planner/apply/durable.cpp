#include "planner/apply/durable.h"

namespace kiln::planner {

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
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    std::vector<size_t> batch;
    batch.swap(queue_);
    lock.unlock();
    // One write per record, one fdatasync for the batch (and for any record
    // other writers added meanwhile).
    Diagnostics d;
    bool ok = true;
    for (size_t m : batch) ok = journal_->Announce(intent_of_(m), d) != 0 && ok;
    ok = ok && journal_->Sync(d);
    lock.lock();
    // A failed node's own worker retries with BeginCreate, which reports.
    for (size_t m : batch) intent_[m] = ok ? IntentState::kDurable : IntentState::kFailed;
    durable_cv_.notify_all();
  }
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

void IntentSyncer::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    work_cv_.notify_one();
  }
  thread_.join();
}

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
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    std::vector<Item> batch;
    batch.swap(queue_);
    lock.unlock();
    SaveBatch(batch);
    lock.lock();
  }
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

void StateSaver::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_one();
  }
  thread_.join();
}

}  // namespace kiln::planner
