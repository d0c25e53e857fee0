#include "providers/testing/fake_provider.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "core/wire.h"
#include "providers/registry.h"

namespace kiln::testing {

using nlohmann::json;
namespace fs = std::filesystem;

ProviderSchema DefaultFakeSchema() {
  ProviderSchema s;
  s.name = "fake";
  s.version = "0.1.0";
  s.config["dir"] = {"string", true, false, false, "keep objects as files here"};
  s.config["latency_ms"] = {"int", true, false, false, "latency of apply, read and delete"};
  s.config["fail_apply"] = {"list<string>", true, false, false, "addresses whose apply fails"};
  KindSchema thing;
  thing.fields["name"] = {"string", true, false, false, ""};
  thing.fields["value"] = {"string", true, false, false, ""};
  thing.fields["count"] = {"int", true, false, false, ""};
  thing.fields["tags"] = {"map<string>", true, false, false, ""};
  thing.fields["password"] = {"string", true, false, true, ""};
  thing.fields["ref"] = {"string", true, false, false, ""};
  thing.fields["zone"] = {"string", true, false, false, "changing it replaces the thing"};
  thing.fields["id"] = {"string", false, true, false, ""};
  thing.fields["status"] = {"string", false, true, false, ""};
  s.kinds["thing"] = thing;
  KindSchema bucket;
  bucket.fields["size"] = {"int", true, false, false, ""};
  bucket.fields["id"] = {"string", false, true, false, ""};
  s.kinds["bucket"] = bucket;
  return s;
}

FakeProvider::FakeProvider(FakeOptions options) : options_(std::move(options)) {
  if (options_.schema.kinds.empty()) options_.schema = DefaultFakeSchema();
  if (options_.replace_on.empty()) options_.replace_on["thing"] = {"zone"};
}

namespace {

ProviderDiagnostics Error(const std::string& summary) {
  return {ProviderDiagnostic{Severity::kError, summary, "", {}}};
}

// Replaces any unknown left in an applied value by null.
void ClearUnknowns(json& v) {
  if (IsUnknown(v)) {
    v = nullptr;
    return;
  }
  if (v.is_object() || v.is_array())
    for (auto& e : v) ClearUnknowns(e);
}

}  // namespace

void FakeProvider::Record(const std::string& op, const std::string& address,
                          const std::string& detail) {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.push_back({op, address, detail});
}

bool FakeProvider::Wait(int ms, uint64_t gen) {
  if (ms > 0 && options_.sleep) options_.sleep(std::chrono::milliseconds(ms));
  if (ms > 0 && !options_.sleep) {
    std::unique_lock<std::mutex> lock(cancel_mu_);
    cancel_cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return cancel_gen_.load() != gen; });
  }
  if (cancel_gen_.load() == gen) return true;
  ++cancelled_;
  return false;
}

void FakeProvider::Cancel() {
  std::lock_guard<std::mutex> lock(cancel_mu_);
  ++cancel_gen_;
  cancel_cv_.notify_all();
}

void FakeProvider::Enter() {
  int now = ++in_flight_;
  int prev = max_in_flight_.load();
  while (now > prev && !max_in_flight_.compare_exchange_weak(prev, now)) {
  }
}

void FakeProvider::Leave() { --in_flight_; }

std::optional<json> FakeProvider::Load(const std::string& id) const {
  if (options_.dir.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objects_.find(id);
    if (it == objects_.end()) return std::nullopt;
    return it->second;
  }
  std::ifstream in(fs::path(options_.dir) / (id + ".json"));
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  json v = json::parse(ss.str(), nullptr, false);
  if (v.is_discarded()) return std::nullopt;
  return v;
}

void FakeProvider::Store(const std::string& id, const json& record) {
  if (options_.dir.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    objects_[id] = record;
    return;
  }
  // Atomic, so that a process killed mid-write leaves either nothing or the
  // whole object (the crash test counts objects).
  fs::path final_path = fs::path(options_.dir) / (id + ".json");
  fs::path tmp = fs::path(options_.dir) / ("." + id + ".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << record.dump();
  }
  fs::rename(tmp, final_path);
}

void FakeProvider::Erase(const std::string& id) {
  if (options_.dir.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    objects_.erase(id);
    return;
  }
  std::error_code ec;
  fs::remove(fs::path(options_.dir) / (id + ".json"), ec);
}

std::string FakeProvider::NewId(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  if (options_.dir.empty()) return "fake-" + std::to_string(next_id_++);
  // Unique across processes.
  static std::mt19937_64 rng(std::random_device{}() ^ static_cast<uint64_t>(getpid()));
  std::ostringstream id;
  id << "fake-" << std::hex << rng();
  return id.str();
}

std::map<std::string, json> FakeProvider::Objects() const {
  if (options_.dir.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    return objects_;
  }
  std::map<std::string, json> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(options_.dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() < 6 || name[0] == '.' || e.path().extension() != ".json") continue;
    std::string id = e.path().stem().string();
    if (auto v = Load(id)) out[id] = *v;
  }
  return out;
}

bool FakeProvider::Mutate(const std::string& id, const json& patch) {
  auto rec = Load(id);
  if (!rec) return false;
  (*rec)["state"].merge_patch(patch);
  Store(id, *rec);
  return true;
}

bool FakeProvider::Remove(const std::string& id) {
  if (!Load(id)) return false;
  Erase(id);
  return true;
}

void FakeProvider::FailApply(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  options_.fail_apply.insert(address);
}

std::vector<FakeCall> FakeProvider::Calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

void FakeProvider::ClearCalls() {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.clear();
}

ConfigureResponse FakeProvider::Configure(const ConfigureRequest& req) {
  ConfigureResponse r;
  const json& c = req.config;
  if (!c.is_object()) return r;
  if (c.contains("dir") && c["dir"].is_string()) {
    options_.dir = c["dir"].get<std::string>();
    std::error_code ec;
    fs::create_directories(options_.dir, ec);
    if (ec) r.diagnostics = Error("cannot create `" + options_.dir + "`: " + ec.message());
  }
  if (c.contains("latency_ms") && c["latency_ms"].is_number_integer()) {
    int ms = c["latency_ms"].get<int>();
    options_.apply_ms = options_.read_ms = options_.delete_ms = ms;
  }
  if (c.contains("fail_apply") && c["fail_apply"].is_array())
    for (const auto& a : c["fail_apply"])
      if (a.is_string()) options_.fail_apply.insert(a.get<std::string>());
  return r;
}

ValidateResponse FakeProvider::Validate(const ValidateRequest& req) {
  ValidateResponse r;
  if (!options_.schema.kinds.count(req.kind)) {
    r.diagnostics = Error("fake provider has no kind `" + req.kind + "`");
    return r;
  }
  // A `name` of "invalid" or "dubious" exercises validation errors and warnings.
  const auto name = req.config.find("name");
  if (name != req.config.end() && name->is_string()) {
    if (*name == "invalid") r.diagnostics.push_back({Severity::kError, "name must not be \"invalid\"", "", {"name"}});
    if (*name == "dubious") r.diagnostics.push_back({Severity::kWarning, "name \"dubious\" is discouraged", "", {"name"}});
  }
  return r;
}

PlanResponse FakeProvider::Plan(const PlanRequest& req) {
  Record("plan", req.address, "");
  Wait(options_.plan_ms, CancelGen());
  PlanResponse r;
  auto kind = options_.schema.kinds.find(req.kind);
  if (kind == options_.schema.kinds.end()) {
    r.diagnostics = Error("fake provider has no kind `" + req.kind + "`");
    return r;
  }
  json planned = req.config.is_object() ? req.config : json::object();
  bool replace = false;
  if (!req.prior.is_null()) {
    auto it = options_.replace_on.find(req.kind);
    if (it != options_.replace_on.end()) {
      for (const auto& f : it->second) {
        json before = req.prior.value(f, json());
        json after = planned.value(f, json());
        if (before != after || IsUnknown(after)) {
          r.requires_replace.push_back({f});
          replace = true;
        }
      }
    }
  }
  for (const auto& [name, field] : kind->second.fields) {
    if (!field.computed) continue;
    if (!req.prior.is_null() && !replace && req.prior.contains(name)) {
      planned[name] = req.prior[name];
    } else {
      planned[name] = Unknown();
    }
  }
  r.planned = planned;
  return r;
}

ApplyResponse FakeProvider::Apply(const ApplyRequest& req) {
  uint64_t gen = CancelGen();
  Enter();
  Record("apply", req.address, req.prior.is_null() ? "create" : "update");
  ApplyResponse r;
  if (!Wait(options_.apply_ms, gen)) {
    r.state = req.prior;  // an update left the object as it was
    r.diagnostics = Error("cancelled: the " + std::string(req.prior.is_null() ? "create" : "update") +
                          " was aborted before it took effect");
    Leave();
    return r;
  }
  bool fail;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fail = options_.fail_apply.count(req.address) > 0;
  }
  if (fail) {
    r.state = req.prior;
    r.diagnostics = Error("injected failure for " + req.address);
    Leave();
    return r;
  }
  json state = req.planned;
  std::string id;
  if (req.prior.is_null()) {
    id = NewId(req.address);
  } else {
    id = req.prior.value("id", "");
  }
  if (state.contains("id")) state["id"] = id;
  if (state.contains("status")) state["status"] = "ready";
  ClearUnknowns(state);
  json record{{"address", req.address}, {"kind", req.kind}, {"state", state}};
  // When it was made, so that recovering an interrupted create by address
  // finds the newest object (a create_before_destroy replacement leaves
  // two with one address for a while).
  if (req.prior.is_null()) {
    record["created"] = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  } else if (auto old = Load(id)) {
    record["created"] = old->value("created", int64_t{0});
  }
  Store(id, record);
  r.state = state;
  Leave();
  return r;
}

ReadBatchResponse FakeProvider::ReadBatch(const ReadBatchRequest& req) {
  Record("read_batch", "", std::to_string(req.reads.size()));
  if (options_.fail_read_batch) {
    ReadBatchResponse r;
    r.diagnostics = Error("injected failure of the whole batch read");
    return r;
  }
  return Provider::ReadBatch(req);
}

ValidateBatchResponse FakeProvider::ValidateBatch(const ValidateBatchRequest& req) {
  Record("validate_batch", "", std::to_string(req.validates.size()));
  return Provider::ValidateBatch(req);
}

PlanBatchResponse FakeProvider::PlanBatch(const PlanBatchRequest& req) {
  Record("plan_batch", "", std::to_string(req.plans.size()));
  return Provider::PlanBatch(req);
}

ReadResponse FakeProvider::Read(const ReadRequest& req) {
  uint64_t gen = CancelGen();
  Enter();
  Record("read", req.address, req.state.is_null() ? "recover" : "");
  ReadResponse r;
  if (!Wait(options_.read_ms, gen)) {
    r.diagnostics = Error("cancelled: the read was aborted");
    Leave();
    return r;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (options_.fail_read.count(req.address)) {
      r.diagnostics = Error("injected read failure for " + req.address);
      Leave();
      return r;
    }
  }
  if (req.state.is_null()) {
    // Recovery of an interrupted create: find the object by its address.
    int64_t newest = -1;
    for (const auto& [id, rec] : Objects()) {
      if (rec.value("address", "") != req.address) continue;
      int64_t created = rec.value("created", int64_t{0});
      if (created <= newest) continue;
      newest = created;
      r.state = rec["state"];
    }
    Leave();
    return r;
  }
  std::string id = req.state.value("id", "");
  if (auto rec = Load(id)) r.state = (*rec)["state"];
  Leave();
  return r;
}

DeleteResponse FakeProvider::Delete(const DeleteRequest& req) {
  uint64_t gen = CancelGen();
  Enter();
  Record("delete", req.address, "");
  DeleteResponse r;
  if (!Wait(options_.delete_ms, gen)) {
    r.diagnostics = Error("cancelled: the delete was aborted; the object still exists");
    Leave();
    return r;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (options_.fail_delete.count(req.address)) {
      r.diagnostics = Error("injected delete failure for " + req.address);
      Leave();
      return r;
    }
  }
  Erase(req.state.value("id", ""));
  Leave();
  return r;
}

ImportResponse FakeProvider::Import(const ImportRequest& req) {
  Record("import", "", req.id);
  ImportResponse r;
  auto rec = Load(req.id);
  if (!rec) {
    r.diagnostics = Error("no object with id `" + req.id + "`");
    return r;
  }
  r.state = (*rec)["state"];
  return r;
}

void RegisterFakeProvider(const std::string& type, FakeOptions options) {
  if (options.schema.kinds.empty()) options.schema = DefaultFakeSchema();
  options.schema.name = type;
  RegisterBuiltinProvider(type, [options] { return std::make_unique<FakeProvider>(options); });
}

}  // namespace kiln::testing
