// A path into a JSON value: object keys, list indices as decimal strings.
#pragma once

#include <string>
#include <vector>

namespace kiln {

using Path = std::vector<std::string>;

}  // namespace kiln
