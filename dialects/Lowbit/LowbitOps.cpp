//===- LowbitOps.cpp - lowbit ops -----------------------------------------===//
//
// Verifiers of the ops of @forward. ODS has checked ranks and element types
// (activations are 2D f32 with a static width, stored vectors and matrices
// have static shapes); what is left is how the widths of the operands relate,
// and that sequence lengths agree wherever both are static.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Dialect/Lowbit/LowbitOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::lowbit;

#define GET_OP_CLASSES
#include "lowbit/Dialect/Lowbit/LowbitOps.cpp.inc"

namespace {
/// One operand or result whose leading dimension is the sequence length.
struct SequenceDim {
  StringRef what;
  Value value;
};
} // namespace

static int64_t dimSize(Value v, unsigned dim) {
  return cast<ShapedType>(v.getType()).getDimSize(dim);
}

/// The width (last dimension) of an activation.
static int64_t width(Value v) { return dimSize(v, 1); }

/// [rows, columns] of a float matrix or a !lowbit.qweight.
static ArrayRef<int64_t> matrixShape(Type type) {
  if (auto q = dyn_cast<QuantizedWeightType>(type))
    return q.getShape();
  return cast<RankedTensorType>(type).getShape();
}

/// Sequence lengths must agree wherever two of them are static.
static LogicalResult verifySequenceLengths(Operation *op,
                                           ArrayRef<SequenceDim> dims) {
  const SequenceDim *known = nullptr;
  for (const SequenceDim &d : dims) {
    int64_t n = dimSize(d.value, 0);
    if (ShapedType::isDynamic(n))
      continue;
    if (!known) {
      known = &d;
      continue;
    }
    int64_t m = dimSize(known->value, 0);
    if (n != m)
      return op->emitOpError() << "sequence length of " << d.what << " (" << n
                               << ") does not match " << known->what << " ("
                               << m << ")";
  }
  return success();
}

static LogicalResult verifyPositive(Operation *op, StringRef name,
                                    int64_t value) {
  if (value <= 0)
    return op->emitOpError() << name << " must be positive, got " << value;
  return success();
}

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError() << "weight name must not be empty";
  return success();
}

//===----------------------------------------------------------------------===//
// EmbeddingOp
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  int64_t d = matrixShape(getTable().getType())[1];
  if (width(getResult()) != d)
    return emitOpError() << "result width " << width(getResult())
                         << " does not match embedding width " << d;
  return verifySequenceLengths(
      *this, {{"tokens", getTokens()}, {"result", getResult()}});
}

//===----------------------------------------------------------------------===//
// RmsNormOp
//===----------------------------------------------------------------------===//

LogicalResult RmsNormOp::verify() {
  if (getResult().getType() != getInput().getType())
    return emitOpError() << "result type " << getResult().getType()
                         << " does not match input type "
                         << getInput().getType();
  int64_t n = dimSize(getWeight(), 0);
  if (n != width(getInput()))
    return emitOpError() << "weight length " << n
                         << " does not match input width "
                         << width(getInput());
  if (!(getEpsilon().convertToFloat() > 0))
    return emitOpError() << "epsilon must be positive, got "
                         << getEpsilon().convertToFloat();
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  ArrayRef<int64_t> w = matrixShape(getWeight().getType());
  int64_t n = w[0], k = w[1];
  if (k != width(getInput()))
    return emitOpError() << "weight [N, K] = [" << n << ", " << k
                         << "] does not match input width "
                         << width(getInput());
  if (width(getResult()) != n)
    return emitOpError() << "result width " << width(getResult())
                         << " does not match weight output width " << n;
  if (Value bias = getBias())
    if (dimSize(bias, 0) != n)
      return emitOpError() << "bias length " << dimSize(bias, 0)
                           << " does not match weight output width " << n;
  return verifySequenceLengths(
      *this, {{"input", getInput()}, {"result", getResult()}});
}

//===----------------------------------------------------------------------===//
// SplitColumnsOp
//===----------------------------------------------------------------------===//

LogicalResult SplitColumnsOp::verify() {
  ArrayRef<int64_t> columns = getColumns();
  int64_t k = width(getInput());
  if (columns.empty())
    return emitOpError() << "needs at least one column";
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] < 0 || columns[i] >= k)
      return emitOpError() << "column " << columns[i]
                           << " is outside the input width " << k;
    if (i > 0 && columns[i] <= columns[i - 1])
      return emitOpError() << "columns must be strictly increasing, got "
                           << columns[i - 1] << " before " << columns[i];
  }
  if (getInliers().getType() != getInput().getType())
    return emitOpError() << "inliers type " << getInliers().getType()
                         << " does not match input type "
                         << getInput().getType();
  if (width(getOutliers()) != int64_t(columns.size()))
    return emitOpError() << "outliers width " << width(getOutliers())
                         << " does not match the " << columns.size()
                         << " columns";
  return verifySequenceLengths(
      *this, {{"input", getInput()}, {"outliers", getOutliers()}});
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::verify() {
  int64_t heads = getNumHeads(), headDim = getHeadDim();
  if (failed(verifyPositive(*this, "num_heads", heads)) ||
      failed(verifyPositive(*this, "head_dim", headDim)))
    return failure();
  // Rotation acts on pairs of values within a head.
  if (headDim % 2 != 0)
    return emitOpError() << "head_dim " << headDim << " must be even";
  if (width(getInput()) != heads * headDim)
    return emitOpError() << "input width " << width(getInput())
                         << " is not num_heads * head_dim = " << heads << " * "
                         << headDim << " = " << heads * headDim;
  if (getResult().getType() != getInput().getType())
    return emitOpError() << "result type " << getResult().getType()
                         << " does not match input type "
                         << getInput().getType();
  if (!(getTheta().convertToFloat() > 0))
    return emitOpError() << "theta must be positive, got "
                         << getTheta().convertToFloat();
  return verifySequenceLengths(
      *this, {{"input", getInput()}, {"positions", getPositions()}});
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads(),
          headDim = getHeadDim();
  if (failed(verifyPositive(*this, "num_heads", heads)) ||
      failed(verifyPositive(*this, "num_kv_heads", kvHeads)) ||
      failed(verifyPositive(*this, "head_dim", headDim)))
    return failure();
  // Grouped-query attention: each key/value head serves a whole group.
  if (heads % kvHeads != 0)
    return emitOpError() << "num_heads " << heads
                         << " is not a multiple of num_kv_heads " << kvHeads;
  // I64Attr accessors return uint64_t; the attribute itself is signed.
  if (int64_t layer = getLayer(); layer < 0)
    return emitOpError() << "layer must be non-negative, got " << layer;
  // The layer selects a KV cache slot, which the model's configuration
  // bounds (when the enclosing module has one).
  if (auto module = (*this)->getParentOfType<ModuleOp>())
    if (ConfigAttr config = getModelConfig(module))
      if (int64_t layer = getLayer(); layer >= config.getNumLayers())
        return emitOpError() << "layer " << layer
                             << " is outside the model's "
                             << config.getNumLayers() << " layers";

  auto checkWidth = [&](StringRef what, Value v, StringRef headsName,
                        int64_t n) -> LogicalResult {
    if (width(v) == n * headDim)
      return success();
    return emitOpError() << what << " width " << width(v) << " is not "
                         << headsName << " * head_dim = " << n << " * "
                         << headDim << " = " << n * headDim;
  };
  if (failed(checkWidth("query", getQuery(), "num_heads", heads)) ||
      failed(checkWidth("key", getKey(), "num_kv_heads", kvHeads)) ||
      failed(checkWidth("value", getValue(), "num_kv_heads", kvHeads)) ||
      failed(checkWidth("result", getResult(), "num_heads", heads)))
    return failure();
  return verifySequenceLengths(*this, {{"query", getQuery()},
                                       {"key", getKey()},
                                       {"value", getValue()},
                                       {"positions", getPositions()},
                                       {"result", getResult()}});
}

//===----------------------------------------------------------------------===//
// SwigluOp, AddOp
//===----------------------------------------------------------------------===//

static LogicalResult verifySameTypes(Operation *op, StringRef lhsName,
                                     StringRef rhsName) {
  Type lhs = op->getOperand(0).getType(), rhs = op->getOperand(1).getType(),
       result = op->getResult(0).getType();
  if (lhs != rhs)
    return op->emitOpError() << lhsName << " type " << lhs << " and " << rhsName
                             << " type " << rhs << " differ";
  if (result != lhs)
    return op->emitOpError() << "result type " << result << " does not match "
                             << lhsName << " type " << lhs;
  return success();
}

LogicalResult SwigluOp::verify() { return verifySameTypes(*this, "gate", "up"); }

LogicalResult AddOp::verify() { return verifySameTypes(*this, "lhs", "rhs"); }
