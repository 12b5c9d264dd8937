//===- LowbitDialect.cpp - The lowbit dialect -----------------------------===//
//
// Dialect registration and the verification of the model module's
// attributes (lowbit.config, lowbit.weight_files, lowbit.tokenizer).
//
//===----------------------------------------------------------------------===//

#include "lowbit/Dialect/Lowbit/LowbitOps.h"

using namespace mlir;
using namespace mlir::lowbit;

#include "lowbit/Dialect/Lowbit/LowbitDialect.cpp.inc"

MLIR_DEFINE_EXPLICIT_TYPE_ID(::mlir::lowbit::KVCacheResource)

void LowbitDialect::initialize() {
  registerAttributes();
  registerTypes();
  addOperations<
#define GET_OP_LIST
#include "lowbit/Dialect/Lowbit/LowbitOps.cpp.inc"
      >();
}

LogicalResult LowbitDialect::verifyOperationAttribute(Operation *op,
                                                      NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  Attribute value = attr.getValue();
  // Unknown lowbit.* attributes are left to the passes that use them.
  if (name != kConfigAttrName && name != kWeightFilesAttrName &&
      name != kSideFilesAttrName && name != kTokenizerAttrName)
    return success();
  if (!isa<ModuleOp>(op))
    return op->emitError() << "'" << name
                           << "' is a module attribute, found on '"
                           << op->getName() << "'";

  if (name == kConfigAttrName) {
    if (!isa<ConfigAttr>(value))
      return op->emitError() << "'" << name
                             << "' must be a #lowbit.config, got " << value;
    return success();
  }
  if (name == kWeightFilesAttrName || name == kSideFilesAttrName) {
    auto files = dyn_cast<ArrayAttr>(value);
    if (!files)
      return op->emitError() << "'" << name
                             << "' must be an array of strings, got " << value;
    for (auto [i, file] : llvm::enumerate(files)) {
      auto str = dyn_cast<StringAttr>(file);
      if (!str)
        return op->emitError() << "'" << name << "' element " << i
                               << " must be a string, got " << file;
      if (str.getValue().empty())
        return op->emitError() << "'" << name << "' element " << i
                               << " is an empty path";
    }
    return success();
  }
  // kTokenizerAttrName
  auto path = dyn_cast<StringAttr>(value);
  if (!path)
    return op->emitError() << "'" << name << "' must be a string, got "
                           << value;
  if (path.getValue().empty())
    return op->emitError() << "'" << name << "' is an empty path";
  return success();
}

ConfigAttr mlir::lowbit::getModelConfig(ModuleOp module) {
  if (!module)
    return {};
  return dyn_cast_or_null<ConfigAttr>(
      module->getAttr(LowbitDialect::kConfigAttrName));
}
