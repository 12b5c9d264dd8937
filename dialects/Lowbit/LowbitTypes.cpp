//===- LowbitTypes.cpp - lowbit types -------------------------------------===//

#include "lowbit/Dialect/Lowbit/LowbitOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::lowbit;

#define GET_TYPEDEF_CLASSES
#include "lowbit/Dialect/Lowbit/LowbitTypes.cpp.inc"

void LowbitDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "lowbit/Dialect/Lowbit/LowbitTypes.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// QuantizedWeightType
//===----------------------------------------------------------------------===//

// !lowbit.qweight<NxK, #lowbit.scheme<...>>
Type QuantizedWeightType::parse(AsmParser &parser) {
  SmallVector<int64_t, 2> shape;
  QuantSchemeAttr scheme;
  if (parser.parseLess() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/false,
                                /*withTrailingX=*/false) ||
      parser.parseComma() || parser.parseAttribute(scheme) ||
      parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(parser.getNameLoc()); },
                    parser.getContext(), shape, scheme);
}

void QuantizedWeightType::print(AsmPrinter &printer) const {
  printer << '<';
  printer.printDimensionList(getShape());
  printer << ", ";
  printer.printAttribute(getScheme());
  printer << '>';
}

LogicalResult
QuantizedWeightType::verify(function_ref<InFlightDiagnostic()> emitError,
                            ArrayRef<int64_t> shape, QuantSchemeAttr scheme) {
  if (shape.size() != 2)
    return emitError() << "quantized weight must have rank 2 [N, K], got rank "
                       << shape.size();
  if (shape[0] <= 0 || shape[1] <= 0)
    return emitError() << "quantized weight dimensions must be positive, got "
                       << shape[0] << "x" << shape[1];
  if (!scheme)
    return emitError() << "quantized weight needs a #lowbit.scheme";
  // Groups (and ggml blocks) run along the input dimension K.
  int64_t group = scheme.getGroupSize();
  if (group > 0 && shape[1] % group != 0)
    return emitError() << "group size " << group
                       << " does not divide input width " << shape[1];
  return success();
}
