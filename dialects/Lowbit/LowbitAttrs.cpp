//===- LowbitAttrs.cpp - lowbit attributes --------------------------------===//
//
// #lowbit.config and #lowbit.scheme: verifiers, and what each quantization
// format fixes.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Dialect/Lowbit/LowbitOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::lowbit;

#include "lowbit/Dialect/Lowbit/LowbitEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "lowbit/Dialect/Lowbit/LowbitAttrs.cpp.inc"

void LowbitDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "lowbit/Dialect/Lowbit/LowbitAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Parameter parsers
//===----------------------------------------------------------------------===//

FailureOr<bool> mlir::lowbit::detail::parseBoolParameter(AsmParser &parser) {
  if (succeeded(parser.parseOptionalKeyword("true")))
    return true;
  if (succeeded(parser.parseOptionalKeyword("false")))
    return false;
  return parser.emitError(parser.getCurrentLocation(),
                          "expected 'true' or 'false'");
}

FailureOr<double> mlir::lowbit::detail::parseDoubleParameter(AsmParser &parser) {
  double value;
  if (parser.parseFloat(value))
    return failure();
  return value;
}

//===----------------------------------------------------------------------===//
// QuantFormat
//===----------------------------------------------------------------------===//

// Bits per weight and block lengths as ggml defines them (ggml-common.h): a
// block of QK4_0 = ... = QK8_0 = 32 values, a k-quant super-block of
// QK_K = 256.
int64_t mlir::lowbit::getFormatBits(QuantFormat format) {
  switch (format) {
  case QuantFormat::Affine:
    return 0;
  case QuantFormat::Q2_K:
    return 2;
  case QuantFormat::Q3_K:
    return 3;
  case QuantFormat::Q4_0:
  case QuantFormat::Q4_1:
  case QuantFormat::Q4_K:
  case QuantFormat::NF4:
  case QuantFormat::FP4:
    return 4;
  case QuantFormat::Q5_0:
  case QuantFormat::Q5_1:
  case QuantFormat::Q5_K:
    return 5;
  case QuantFormat::Q6_K:
    return 6;
  case QuantFormat::Q8_0:
  case QuantFormat::Int8Row:
    return 8;
  }
  llvm_unreachable("unknown QuantFormat");
}

int64_t mlir::lowbit::getFormatBlockSize(QuantFormat format) {
  switch (format) {
  case QuantFormat::Q4_0:
  case QuantFormat::Q4_1:
  case QuantFormat::Q5_0:
  case QuantFormat::Q5_1:
  case QuantFormat::Q8_0:
    return 32;
  case QuantFormat::Q2_K:
  case QuantFormat::Q3_K:
  case QuantFormat::Q4_K:
  case QuantFormat::Q5_K:
  case QuantFormat::Q6_K:
    return 256;
  case QuantFormat::Affine:
  case QuantFormat::NF4:
  case QuantFormat::FP4:
  case QuantFormat::Int8Row:
    return 0;
  }
  llvm_unreachable("unknown QuantFormat");
}

int64_t mlir::lowbit::getFormatDefaultGroupSize(QuantFormat format) {
  if (int64_t block = getFormatBlockSize(format))
    return block;
  if (format == QuantFormat::NF4 || format == QuantFormat::FP4)
    return 64;
  return -1;
}

bool mlir::lowbit::isFormatSymmetric(QuantFormat format) {
  switch (format) {
  // These store a minimum (q*_1, q2_k, q4_k, q5_k) or a zero point (affine by
  // default) beside the scale.
  case QuantFormat::Affine:
  case QuantFormat::Q4_1:
  case QuantFormat::Q5_1:
  case QuantFormat::Q2_K:
  case QuantFormat::Q4_K:
  case QuantFormat::Q5_K:
    return false;
  default:
    return true;
  }
}

//===----------------------------------------------------------------------===//
// ConfigAttr
//===----------------------------------------------------------------------===//

LogicalResult
ConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError, StringRef arch,
                   int64_t vocabSize, int64_t hiddenSize,
                   int64_t intermediateSize, int64_t numLayers,
                   int64_t numHeads, int64_t numKvHeads, int64_t headDim,
                   int64_t contextLength, StoredDouble rmsNormEpsValue,
                   StoredDouble ropeThetaValue,
                   int64_t bosTokenId, int64_t eosTokenId,
                   bool tieWordEmbeddings) {
  if (arch.empty())
    return emitError() << "arch must not be empty";
  double rmsNormEps = rmsNormEpsValue, ropeTheta = ropeThetaValue;
  std::pair<StringRef, int64_t> sizes[] = {
      {"vocab_size", vocabSize},         {"hidden_size", hiddenSize},
      {"intermediate_size", intermediateSize}, {"num_layers", numLayers},
      {"num_heads", numHeads},           {"num_kv_heads", numKvHeads},
      {"head_dim", headDim},             {"context_length", contextLength}};
  for (auto [name, value] : sizes)
    if (value <= 0)
      return emitError() << name << " must be positive, got " << value;
  if (numHeads % numKvHeads != 0)
    return emitError() << "num_heads " << numHeads
                       << " is not a multiple of num_kv_heads " << numKvHeads;
  // `!(x > 0)` also rejects NaN.
  if (!(rmsNormEps > 0))
    return emitError() << "rms_norm_eps must be positive, got " << rmsNormEps;
  if (!(ropeTheta > 0))
    return emitError() << "rope_theta must be positive, got " << ropeTheta;
  std::pair<StringRef, int64_t> tokens[] = {{"bos_token_id", bosTokenId},
                                            {"eos_token_id", eosTokenId}};
  for (auto [name, id] : tokens)
    if (id < -1 || id >= vocabSize)
      return emitError() << name << " " << id << " is outside [-1, vocab_size "
                         << vocabSize << ")";
  return success();
}

//===----------------------------------------------------------------------===//
// QuantSchemeAttr
//===----------------------------------------------------------------------===//

bool QuantSchemeAttr::isBlockFormat() const {
  return mlir::lowbit::isBlockFormat(getFormat());
}

LogicalResult
QuantSchemeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        QuantFormat format, int64_t bits, int64_t groupSize,
                        bool symmetric, bool actOrder) {
  if (bits < 2 || bits > 8)
    return emitError() << "bits must be in [2, 8], got " << bits;
  if (groupSize != -1 && groupSize <= 0)
    return emitError() << "group_size must be positive or -1, got "
                       << groupSize;
  StringRef name = stringifyQuantFormat(format);
  if (int64_t formatBits = getFormatBits(format); formatBits && bits != formatBits)
    return emitError() << "format " << name << " stores " << formatBits
                       << "-bit codes, but bits = " << bits;
  if (int64_t block = getFormatBlockSize(format); block && groupSize != block)
    return emitError() << "format " << name << " has blocks of " << block
                       << " values, but group_size = " << groupSize;
  return success();
}
