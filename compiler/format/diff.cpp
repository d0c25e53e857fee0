#include "compiler/format/diff.h"

#include <algorithm>
#include <string_view>
#include <vector>

namespace kiln {
namespace {

constexpr size_t kContext = 3;
// Beyond this many differing lines the diff is printed as one hunk that
// replaces everything between the common head and tail (Myers' search is
// quadratic in the number of differences).
constexpr int kMaxEdits = 2000;

std::vector<std::string_view> SplitLines(const std::string& s) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) {
      lines.push_back(std::string_view(s).substr(start));
      break;
    }
    lines.push_back(std::string_view(s).substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

enum class Op { kKeep, kDelete, kInsert };

// Myers' O(ND) diff of a[alo, ahi) against b[blo, bhi); appends the edit
// script to `ops`. Returns false when more than kMaxEdits edits are needed.
bool Myers(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b,
           std::vector<Op>& ops) {
  int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
  int max_d = std::min(n + m, kMaxEdits);
  int offset = max_d + 1;
  std::vector<int> v(2 * max_d + 3, 0);
  std::vector<std::vector<int>> trace;  // v[-d..d] at the start of step d
  int final_d = -1;
  for (int d = 0; d <= max_d && final_d < 0; ++d) {
    trace.emplace_back(v.begin() + offset - d, v.begin() + offset + d + 1);
    for (int k = -d; k <= d; k += 2) {
      int x = (k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1])) ? v[offset + k + 1]
                                                                            : v[offset + k - 1] + 1;
      int y = x - k;
      while (x < n && y < m && a[x] == b[y]) ++x, ++y;
      v[offset + k] = x;
      if (x >= n && y >= m) {
        final_d = d;
        break;
      }
    }
  }
  if (final_d < 0) return false;
  std::vector<Op> rev;
  int x = n, y = m;
  for (int d = final_d; d > 0; --d) {
    const std::vector<int>& prev = trace[d];  // indices -d..d
    auto at = [&](int k) { return prev[k + d]; };
    int k = x - y;
    int prev_k = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1;
    int prev_x = at(prev_k);
    int prev_y = prev_x - prev_k;
    while (x > prev_x && y > prev_y) {
      rev.push_back(Op::kKeep);
      --x, --y;
    }
    if (x == prev_x) {
      rev.push_back(Op::kInsert);
      --y;
    } else {
      rev.push_back(Op::kDelete);
      --x;
    }
  }
  while (x > 0 && y > 0) {
    rev.push_back(Op::kKeep);
    --x, --y;
  }
  ops.insert(ops.end(), rev.rbegin(), rev.rend());
  return true;
}

}  // namespace

std::string UnifiedDiff(const std::string& path, const std::string& before,
                        const std::string& after, bool color) {
  if (before == after) return std::string();
  std::vector<std::string_view> a = SplitLines(before), b = SplitLines(after);
  // Common head and tail first: formatting changes are usually local.
  size_t head = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head]) ++head;
  size_t tail = 0;
  while (tail < a.size() - head && tail < b.size() - head &&
         a[a.size() - 1 - tail] == b[b.size() - 1 - tail]) {
    ++tail;
  }
  std::vector<std::string_view> a_mid(a.begin() + head, a.end() - tail);
  std::vector<std::string_view> b_mid(b.begin() + head, b.end() - tail);
  std::vector<Op> ops(head, Op::kKeep);
  if (!Myers(a_mid, b_mid, ops)) {
    ops.insert(ops.end(), a_mid.size(), Op::kDelete);
    ops.insert(ops.end(), b_mid.size(), Op::kInsert);
  }
  ops.insert(ops.end(), tail, Op::kKeep);

  const char* red = color ? "\x1b[31m" : "";
  const char* green = color ? "\x1b[32m" : "";
  const char* cyan = color ? "\x1b[36m" : "";
  const char* reset = color ? "\x1b[0m" : "";
  std::string out = std::string("--- a/") + path + "\n+++ b/" + path + "\n";
  // Positions (line indices into a and b) at each op.
  std::vector<size_t> ai(ops.size() + 1), bi(ops.size() + 1);
  for (size_t i = 0; i < ops.size(); ++i) {
    ai[i + 1] = ai[i] + (ops[i] != Op::kInsert);
    bi[i + 1] = bi[i] + (ops[i] != Op::kDelete);
  }
  size_t i = 0;
  while (i < ops.size()) {
    if (ops[i] == Op::kKeep) {
      ++i;
      continue;
    }
    // A hunk: from kContext keeps before the change to kContext keeps after
    // the last change that is within 2*kContext of the previous one.
    size_t start = i >= kContext ? i - kContext : 0;
    while (start < i && ops[start] != Op::kKeep) ++start;
    size_t end = i;
    for (;;) {
      while (end < ops.size() && ops[end] != Op::kKeep) ++end;
      size_t keeps = 0;
      while (end + keeps < ops.size() && ops[end + keeps] == Op::kKeep) ++keeps;
      if (end + keeps < ops.size() && keeps <= 2 * kContext) {
        end += keeps;
        continue;
      }
      end += std::min(keeps, kContext);
      break;
    }
    size_t a_len = ai[end] - ai[start], b_len = bi[end] - bi[start];
    out += cyan;
    out += "@@ -" + std::to_string(a_len ? ai[start] + 1 : ai[start]) + "," + std::to_string(a_len) +
           " +" + std::to_string(b_len ? bi[start] + 1 : bi[start]) + "," + std::to_string(b_len) +
           " @@";
    out += reset;
    out += "\n";
    for (size_t k = start; k < end; ++k) {
      switch (ops[k]) {
        case Op::kKeep:
          out += " " + std::string(a[ai[k]]) + "\n";
          break;
        case Op::kDelete:
          out += red + std::string("-") + std::string(a[ai[k]]) + reset + "\n";
          break;
        case Op::kInsert:
          out += green + std::string("+") + std::string(b[bi[k]]) + reset + "\n";
          break;
      }
    }
    i = end;
  }
  return out;
}

}  // namespace kiln
