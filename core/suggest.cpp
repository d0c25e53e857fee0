#include "core/suggest.h"

#include <algorithm>
#include <cctype>

namespace kiln {

namespace {
char Fold(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// Case-insensitive Levenshtein distance.
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = Fold(a[i - 1]) == Fold(b[j - 1]) ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

size_t CommonPrefix(const std::string& a, const std::string& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && Fold(a[n]) == Fold(b[n])) ++n;
  return n;
}
}  // namespace

// The nearest candidate by edit distance; ties go to the longer common
// prefix (`gpus` suggests `gpu`, not `cpus`; `H10` suggests H100, not A10).
// Only plausible typos: at most a third of the name's length (2 for short
// names), and never a candidate that shares nothing with the name.
std::string ClosestMatch(const std::string& name,
                         const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::string::npos, best_p = 0;
  for (const auto& c : candidates) {
    if (c == name) continue;
    size_t d = EditDistance(name, c), p = CommonPrefix(name, c);
    if (d < best_d || (d == best_d && p > best_p)) {
      best = c;
      best_d = d;
      best_p = p;
    }
  }
  if (best_d == std::string::npos || best_d > std::max<size_t>(2, name.size() / 3) ||
      best_d >= name.size()) {
    return "";
  }
  return best;
}

}  // namespace kiln
