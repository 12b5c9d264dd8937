//===- Annotations.cpp - Attributes the codegen passes leave on @forward --===//
#include "Annotations.h"

#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "mlir/IR/Builders.h"

using namespace mlir;
namespace lowbit {

DictionaryAttr rangeToAttr(MLIRContext *ctx, SectionRange r, StringRef layout,
                                   const PackedLayout *p) {
  Builder b(ctx);
  SmallVector<NamedAttribute> attrs = {b.getNamedAttr("offset", b.getI64IntegerAttr(r.offset)),
                                       b.getNamedAttr("size", b.getI64IntegerAttr(r.size)),
                                       b.getNamedAttr("layout", b.getStringAttr(layout))};
  if (p) {
    auto i = [&](StringRef n, int64_t v) { attrs.push_back(b.getNamedAttr(n, b.getI64IntegerAttr(v))); };
    i("family", int64_t(p->family));
    i("rows", p->rows);
    i("cols", p->cols);
    i("float", int64_t(p->floatEncoding));
    i("bits", p->bits);
    i("signed", p->signedCodes);
    i("sub_block", p->subBlock);
    i("half_params", p->halfParams);
    i("min", p->hasMin);
    i("activations", int64_t(p->activationQuant));
    i("fp4", p->fp4Codebook);
    i("permuted", p->permutedColumns);
    i("super_block", p->superBlock);
    i("code_offset", p->codeOffset);
    i("interleave", p->interleave);
    i("param_blocks", p->paramBlocks);
    i("int8_codebook", p->int8Codebook);
  }
  return b.getDictionaryAttr(attrs);
}

static std::optional<int64_t> intField(DictionaryAttr d, StringRef name) {
  auto a = d ? dyn_cast_or_null<IntegerAttr>(d.get(name)) : IntegerAttr();
  if (!a)
    return std::nullopt;
  return a.getInt();
}

std::optional<SectionRange> rangeFromAttr(Attribute attr) {
  auto d = dyn_cast_or_null<DictionaryAttr>(attr);
  std::optional<int64_t> off = intField(d, "offset"), size = intField(d, "size");
  if (!off || !size)
    return std::nullopt;
  return SectionRange{*off, *size};
}

std::optional<PackedLayout> layoutFromAttr(Attribute attr) {
  auto d = dyn_cast_or_null<DictionaryAttr>(attr);
  PackedLayout l;
  static const char *kFields[] = {"family", "rows", "cols", "float", "bits", "signed",
                                  "sub_block", "half_params", "min", "activations",
                                  "fp4", "permuted", "super_block", "code_offset", "interleave", "param_blocks",
                                  "int8_codebook"};
  int64_t v[17];
  for (int i = 0; i < 17; ++i) {
    std::optional<int64_t> f = intField(d, kFields[i]);
    if (!f)
      return std::nullopt;
    v[i] = *f;
  }
  l.family = KernelFamily(v[0]);
  l.rows = v[1];
  l.cols = v[2];
  l.floatEncoding = FloatEncoding(v[3]);
  l.bits = int(v[4]);
  l.signedCodes = v[5];
  l.subBlock = int(v[6]);
  l.halfParams = v[7];
  l.hasMin = v[8];
  l.activationQuant = ActivationQuant(v[9]);
  l.fp4Codebook = v[10];
  l.permutedColumns = v[11];
  l.superBlock = int(v[12]);
  l.codeOffset = int(v[13]);
  l.interleave = int(v[14]);
  l.paramBlocks = int(v[15]);
  l.int8Codebook = v[16];
  return l;
}

WeightEncoding weightEncodingOf(mlir::lowbit::WeightOp w, int64_t &rows, int64_t &cols) {
  WeightEncoding enc;
  if (auto q = mlir::dyn_cast<mlir::lowbit::QuantizedWeightType>(w.getType())) {
    enc.quantized = true;
    enc.format = q.getScheme().getFormat();
    enc.bits = q.getScheme().getBits();
    enc.groupSize = q.getScheme().getGroupSize();
    enc.actOrder = q.getScheme().getActOrder();
    rows = q.getShape()[0];
    cols = q.getShape()[1];
    return enc;
  }
  auto t = mlir::cast<mlir::RankedTensorType>(w.getType());
  rows = t.getDimSize(0);
  cols = t.getRank() > 1 ? t.getDimSize(1) : 1;
  mlir::Type e = t.getElementType();
  enc.floatEncoding = e.isF16()    ? FloatEncoding::F16
                      : e.isBF16() ? FloatEncoding::BF16
                                   : FloatEncoding::F32;
  return enc;
}

} // namespace lowbit
