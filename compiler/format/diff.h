// Line diffs for `kiln fmt --diff`.
#pragma once

#include <string>

namespace kiln {

// A unified diff (3 lines of context) from `before` to `after`, with
// `--- a/PATH` / `+++ b/PATH` headers; empty when the texts are equal.
// `color` paints removed lines red and added lines green.
std::string UnifiedDiff(const std::string& path, const std::string& before,
                        const std::string& after, bool color = false);

}  // namespace kiln
