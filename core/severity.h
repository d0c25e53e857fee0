// How bad a diagnostic is; shared by compiler diagnostics and provider
// diagnostics.
#pragma once

namespace kiln {

enum class Severity { kError, kWarning, kNote };

}  // namespace kiln
