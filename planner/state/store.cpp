// StateStore: what changed, serials, group-committed writes and keyed
// hashing, over any StateBackend (local.cpp, postgres.cpp).
#include <ctime>

#include "planner/state/format.h"
#include "planner/state/state.h"

namespace kiln::state {

namespace {

bool HasHashes(const State& s) {
  for (const ResourceState& r : s.resources) {
    if (!r.sensitive_hashes.empty()) return true;
  }
  for (const auto& [name, o] : s.outputs) {
    if (!o.hash.empty()) return true;
  }
  return false;
}

}  // namespace

StateStore::StateStore(std::string path)
    : StateStore(std::make_unique<LocalBackend>(std::move(path))) {}

StateStore::StateStore(std::unique_ptr<StateBackend> backend)
    : backend_(std::move(backend)), body_cache_(std::make_unique<format::BodyCache>()) {}

StateStore::~StateStore() = default;

std::string StateStore::path() const {
  const auto* local = dynamic_cast<const LocalBackend*>(backend_.get());
  return local ? local->path() : "";
}

bool StateStore::Exists() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (loaded_) return persisted_exists_;
  }
  return backend_->Exists();
}

bool StateStore::Load(State* out, Diagnostics& diags) {
  std::lock_guard<std::mutex> lock(mu_);
  loaded_ = false;
  load_failed_ = false;
  std::string text;
  bool found = false;
  State state;
  if (!backend_->ReadState(&text, &found, diags)) {
    load_failed_ = true;
    return false;
  }
  if (!found) {
    state.lineage = NewUuid();
    state.serial = 0;
    state.kiln_version = KILN_VERSION;
    persisted_body_.clear();
    persisted_lineage_.clear();
    persisted_key_id_.clear();
    persisted_serial_ = 0;
    persisted_exists_ = false;
  } else {
    if (!ParseState(text, path().empty() ? backend_->Describe() : path(), backend_->BackupMention(), &state, diags)) {
      load_failed_ = true;
      return false;
    }
    persisted_body_ = format::SerializeBody(state, body_cache_.get());
    persisted_lineage_ = state.lineage;
    persisted_key_id_ = state.hash_key_id;
    persisted_serial_ = state.serial;
    persisted_exists_ = true;
  }

  // The hashing key.
  std::string key;
  bool key_found = false;
  key_stored_ = false;
  key_matches_ = true;
  if (!backend_->ReadKey(&key, &key_found, diags)) {
    load_failed_ = true;
    return false;
  }
  if (key_found) {
    if (key.size() < 16) {
      load_failed_ = true;
      diags.Error("E0807", SourceRange{}, backend_->DescribeKey() + " is too short (" +
                                              std::to_string(key.size()) + " bytes)")
          .help = "restore the key; if it is lost, delete it and kiln will make a new one "
                  "(sensitive values then show as changed once)";
      return false;
    }
    key_stored_ = true;
  } else {
    key = SensitiveHasher::NewKey();
  }
  hasher_ = SensitiveHasher(key);
  if (HasHashes(state) && state.hash_key_id != hasher_.KeyId()) {
    key_matches_ = false;
    Diagnostic& d = diags.Warning(
        "W0808", SourceRange{},
        key_stored_ ? backend_->DescribeKey() + " is not the key the state's sensitive values were hashed with"
                    : backend_->DescribeKey() + " is missing; the state's sensitive values were hashed with it");
    d.notes.push_back("sensitive values cannot be compared with the configuration, so they are treated as changed");
    d.help = "restore the key from where the state came from, or apply once to re-record the values";
  }
  current_ = state;
  loaded_ = true;
  edit_gen_ = written_gen_ = failed_gen_ = 0;
  *out = std::move(state);
  return true;
}

State StateStore::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void StateStore::Read(const std::function<void(const State&)>& read) const {
  std::lock_guard<std::mutex> lock(mu_);
  read(current_);
}

bool StateStore::Save(const State& state, Diagnostics& diags) {
  return Update([&state](State& s) { s = state; }, diags);
}

bool StateStore::EnsureKey(Diagnostics& diags) {
  if (key_stored_) return true;
  if (!backend_->WriteKey(hasher_.key(), diags)) return false;
  key_stored_ = true;
  return true;
}

bool StateStore::Update(const std::function<void(State&)>& edit, Diagnostics& diags) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!loaded_) {
    Diagnostic& d = diags.Error("E0806", SourceRange{},
                                load_failed_ ? "refusing to write state: the " + backend_->Describe() + " could not be read"
                                             : "internal error: state saved before it was loaded");
    d.notes.push_back("the " + backend_->Describe() + " is left as it is");
    return false;
  }
  int64_t serial = current_.serial;
  edit(current_);
  current_.serial = serial;
  uint64_t my_gen = ++edit_gen_;
  while (written_gen_ < my_gen) {
    if (failed_gen_ >= my_gen) {
      diags.Add(failure_);
      return false;
    }
    if (writing_) {
      written_cv_.wait(lock);
      continue;
    }
    // This thread writes everything edited so far.
    uint64_t gen = edit_gen_;
    current_.hash_key_id = HasHashes(current_) ? hasher_.KeyId() : "";
    std::string body = format::SerializeBody(current_, body_cache_.get());
    if (persisted_exists_ && body == persisted_body_ && current_.lineage == persisted_lineage_ &&
        current_.hash_key_id == persisted_key_id_) {
      written_gen_ = gen;  // nothing changed: nothing to write, serial stays
      break;
    }
    State header;  // only the header fields: copying resources would cost O(n)
    header.lineage = current_.lineage;
    header.hash_key_id = current_.hash_key_id;
    header.deposed = current_.deposed;  // decides the version written (few, if any)
    header.serial = persisted_serial_ + 1;
    header.kiln_version = KILN_VERSION;
    std::string text = format::Assemble(format::SerializeHeader(header), body);
    bool need_key = !current_.hash_key_id.empty() && !key_stored_;
    int64_t expected = persisted_exists_ ? persisted_serial_ : 0;
    writing_ = true;
    lock.unlock();

    Diagnostics io;
    bool ok = !need_key || EnsureKey(io);
    ok = ok && backend_->WriteState(text, expected, header.serial, header.lineage, io);

    lock.lock();
    writing_ = false;
    if (ok) {
      persisted_body_ = std::move(body);
      persisted_lineage_ = current_.lineage;
      persisted_key_id_ = header.hash_key_id;
      persisted_serial_ = header.serial;
      persisted_exists_ = true;
      current_.serial = header.serial;
      current_.kiln_version = header.kiln_version;
      written_gen_ = gen;
    } else {
      failed_gen_ = gen;
      failure_ = io.items().empty() ? Diagnostic{} : io.items().front();
    }
    written_cv_.notify_all();
  }
  return true;
}

std::string StateStore::BackupCopy(Diagnostics& diags) const { return backend_->KeepCopy(diags); }

}  // namespace kiln::state
