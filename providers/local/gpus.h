// The local machine's GPUs: nvidia-smi output parsed and its names mapped to
// catalog models (stdlib/gpus.kiln), or a simulated inventory ("H100:4").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kiln::local {

struct CatalogModel {
  std::string model;
  int64_t memory = 0;  // bytes
  std::vector<std::string> aliases;
};

// The GPU catalog, read from the aliases in stdlib/gpus.kiln. The file is
// scanned as text (model lines, `memory =` and `aliases = [...]`), so the
// provider does not need the compiler to know GPU names.
class GpuCatalog {
 public:
  static GpuCatalog Load(const std::string& path);
  // The catalog of the kiln installation (KILN_STDLIB_DIR/gpus.kiln).
  static const GpuCatalog& Default();
  // The model for a name nvidia-smi or a user wrote: an exact model or
  // alias, then case-insensitively; "" when unknown.
  std::string Normalize(const std::string& name) const;
  int64_t Memory(const std::string& model) const;
  bool empty() const { return models_.empty(); }
  const std::vector<CatalogModel>& models() const { return models_; }

 private:
  std::vector<CatalogModel> models_;
  std::map<std::string, std::string> exact_, folded_;
};

struct LocalGpu {
  int index = 0;
  std::string model;  // catalog model, or the raw name when not in the catalog
  std::string name;   // as nvidia-smi printed it
  std::string uuid;
  int64_t memory = 0;  // bytes
};

// Parses `nvidia-smi --query-gpu=index,name,uuid,memory.total
// --format=csv,noheader,nounits` output (memory in MiB). Lines that do not
// parse are reported in *warnings and skipped.
std::vector<LocalGpu> ParseNvidiaSmi(const std::string& text, const GpuCatalog& catalog,
                                     std::vector<std::string>* warnings);

// "H100:4" or "H100:4,L4:2" (count defaults to 1). False with *error on a
// malformed spec or an unknown model.
bool ParseSimulatedGpus(const std::string& spec, const GpuCatalog& catalog,
                        std::vector<LocalGpu>* gpus, std::string* error);

}  // namespace kiln::local
