#include "providers/provider.h"

#include <algorithm>

namespace kiln {

bool HasErrors(const ProviderDiagnostics& diags) {
  return std::any_of(diags.begin(), diags.end(), [](const ProviderDiagnostic& d) {
    return d.severity == Severity::kError;
  });
}

InventoryResponse Provider::Inventory() {
  InventoryResponse r;
  r.diagnostics.push_back({Severity::kError, "provider `" + Schema().name +
                                                 "` does not report an inventory", "", {}});
  return r;
}

}  // namespace kiln
