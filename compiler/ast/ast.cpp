#include "compiler/ast/ast.h"

namespace kiln::ast {

bool IsDurationUnit(Unit u) { return u <= Unit::kD; }

int64_t UnitScale(Unit u) {
  switch (u) {
    case Unit::kMs: return 1;
    case Unit::kS: return 1000;
    case Unit::kM: return 60 * 1000;
    case Unit::kH: return 3600 * 1000;
    case Unit::kD: return 24 * 3600 * 1000LL;
    case Unit::kB: return 1;
    case Unit::kKB: return 1000;
    case Unit::kMB: return 1000 * 1000;
    case Unit::kGB: return 1000LL * 1000 * 1000;
    case Unit::kTB: return 1000LL * 1000 * 1000 * 1000;
    case Unit::kPB: return 1000LL * 1000 * 1000 * 1000 * 1000;
    case Unit::kKiB: return 1LL << 10;
    case Unit::kMiB: return 1LL << 20;
    case Unit::kGiB: return 1LL << 30;
    case Unit::kTiB: return 1LL << 40;
    case Unit::kPiB: return 1LL << 50;
  }
  return 1;
}

const char* UnitName(Unit u) {
  static const char* names[] = {"ms", "s", "m", "h", "d", "B", "KB", "MB", "GB",
                                "TB", "PB", "KiB", "MiB", "GiB", "TiB", "PiB"};
  return names[static_cast<int>(u)];
}

const char* BinaryOpText(BinaryOp op) {
  static const char* texts[] = {"*", "/", "%", "+", "-", "..", "<",
                                "<=", ">", ">=", "==", "!=", "&&", "||"};
  return texts[static_cast<int>(op)];
}

}  // namespace kiln::ast
