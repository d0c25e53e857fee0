// Schemas of kinds and provider configuration live in core/ (shared with
// providers/ and the planner); this header keeps the old include working.
#pragma once

#include "core/provider_schema.h"
