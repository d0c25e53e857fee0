// "Did you mean" suggestions, for the compiler's diagnostics and the
// provider registry's errors alike.
#pragma once

#include <string>
#include <vector>

namespace kiln {

// Edit-distance suggestion: the candidate closest to `name`, or "" if none is
// close enough to be a plausible typo.
std::string ClosestMatch(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace kiln
