#include "providers/provider.h"

#include <algorithm>

namespace kiln {

std::string ErrorText(const ProviderDiagnostics& diags) {
  std::string msg;
  for (const auto& d : diags) {
    if (d.severity != Severity::kError) continue;
    if (!msg.empty()) msg += "; ";
    msg += d.summary;
    if (d.detail.empty()) continue;
    msg += d.detail.find('\n') == std::string::npos ? ": " + d.detail : "\n" + d.detail;
  }
  return msg;
}

bool HasErrors(const ProviderDiagnostics& diags) {
  return std::any_of(diags.begin(), diags.end(), [](const ProviderDiagnostic& d) {
    return d.severity == Severity::kError;
  });
}

ReadBatchResponse Provider::ReadBatch(const ReadBatchRequest& req) {
  ReadBatchResponse resp;
  resp.results.reserve(req.reads.size());
  for (const auto& r : req.reads) resp.results.push_back(Read(r));
  return resp;
}

ValidateBatchResponse Provider::ValidateBatch(const ValidateBatchRequest& req) {
  ValidateBatchResponse resp;
  resp.results.reserve(req.validates.size());
  for (const auto& v : req.validates) resp.results.push_back(Validate(v));
  return resp;
}

PlanBatchResponse Provider::PlanBatch(const PlanBatchRequest& req) {
  PlanBatchResponse resp;
  resp.results.reserve(req.plans.size());
  for (const auto& p : req.plans) resp.results.push_back(Plan(p));
  return resp;
}

InventoryResponse Provider::Inventory() {
  InventoryResponse r;
  r.diagnostics.push_back({Severity::kError, "provider `" + Schema().name +
                                                 "` does not report an inventory", "", {}});
  return r;
}

}  // namespace kiln
