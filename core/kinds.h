// The core kinds every provider may implement (their schemas are
// stdlib/kinds.kiln; the compiler reads them from there). C++ code that
// treats one core kind specially names it through these constants.
#pragma once

#include <string_view>

namespace kiln {

inline constexpr char kKindCluster[] = "cluster";
inline constexpr char kKindDatastore[] = "datastore";
inline constexpr char kKindTrainingJob[] = "training_job";
inline constexpr char kKindEndpoint[] = "endpoint";

inline bool IsCoreKind(std::string_view kind) {
  return kind == kKindCluster || kind == kKindDatastore || kind == kKindTrainingJob ||
         kind == kKindEndpoint;
}

}  // namespace kiln
