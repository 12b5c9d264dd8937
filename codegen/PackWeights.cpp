//===- PackWeights.cpp - --lowbit-pack-weights ----------------------------===//
#include "Annotations.h"
#include "lowbit/Codegen/Passes.h"
#include "lowbit/Codegen/WeightPacking.h"
#include "lowbit/Dialect/Lowbit/LowbitOps.h"
#include "lowbit/Quant/GgmlQuants.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/OutputFile.h"

#include "mlir/IR/Builders.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_PACKWEIGHTS
#include "lowbit/Codegen/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
using ::lowbit::PackedWeight;
using ::lowbit::SectionRange;

namespace {
struct PackWeightsPass : mlir::lowbit::impl::PackWeightsBase<PackWeightsPass> {
  using Base::Base;
  std::vector<uint8_t> section;

  SectionRange append(const void *data, size_t size) {
    size_t offset = (section.size() + 63) / 64 * 64;
    section.resize(offset + size);
    std::memcpy(section.data() + offset, data, size);
    return {int64_t(offset), int64_t(size)};
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (output.empty() || !forward) {
      module.emitError("--lowbit-pack-weights needs output= and a @forward function");
      return signalPassFailure();
    }
    if (interleave != ::lowbit::kInterleavedRows &&
        interleave != ::lowbit::kMaxInterleavedRows) {
      module.emitError("--lowbit-pack-weights: interleave=" + std::to_string(interleave) +
                       " is not a row group the kernels read (8 or 16)");
      return signalPassFailure();
    }
    ::lowbit::WeightStore weights;
    if (llvm::Error e = ::lowbit::openModuleWeights(module, weights)) {
      module.emitError(llvm::toString(std::move(e)));
      return signalPassFailure();
    }
    MLIRContext *ctx = &getContext();
    Builder b(ctx);
    bool failedAny = false;
    forward.walk([&](Operation *op) {
      if (auto split = dyn_cast<SplitColumnsOp>(op)) {
        std::vector<int32_t> cols(split.getColumns().begin(), split.getColumns().end());
        split->setAttr(::lowbit::kPackedColumnsAttr,
                       ::lowbit::rangeToAttr(ctx, append(cols.data(), cols.size() * 4), "i32"));
        return;
      }
      auto w = dyn_cast<WeightOp>(op);
      if (!w || w->hasAttr(::lowbit::kPackedAttr))
        return;
      // Matrices read by a linear or an embedding get a kernel layout; the
      // vectors of norms and biases become f32.
      bool matrix = llvm::any_of(w->getUsers(), [&](Operation *user) {
        if (auto l = dyn_cast<LinearOp>(user))
          return l.getWeight() == w.getResult();
        if (auto e = dyn_cast<EmbeddingOp>(user))
          return e.getTable() == w.getResult();
        return false;
      });
      int64_t rows, cols;
      ::lowbit::WeightEncoding enc = ::lowbit::weightEncodingOf(w, rows, cols);
      if (!matrix) {
        llvm::Expected<const ::lowbit::TensorRef *> t = weights.get(w.getName());
        std::vector<float> values;
        llvm::Error e = t ? ::lowbit::dequantize(**t, values) : t.takeError();
        if (!e)
          if (llvm::Error f = ::lowbit::checkFinite(
                  w.getName(), values.data(), int64_t(values.size()),
                  int64_t(values.size())))
            e = ::lowbit::fileError(weights.fileOf(w.getName()), "{0}",
                                    llvm::toString(std::move(f)));
        if (e) {
          w.emitError(llvm::toString(std::move(e)));
          failedAny = true;
          return;
        }
        w->setAttr(::lowbit::kPackedAttr,
                   ::lowbit::rangeToAttr(ctx, append(values.data(), values.size() * 4)));
        return;
      }
      llvm::Expected<PackedWeight> p =
          ::lowbit::packWeight(weights, w.getName(), enc, rows, cols);
      if (!p) {
        w.emitError(llvm::toString(p.takeError()));
        failedAny = true;
        return;
      }
      // Weights only linears read get their rows interleaved for the
      // row-parallel integer kernels (embeddings gather single rows).
      bool onlyLinears = llvm::all_of(w->getUsers(), [&](Operation *user) {
        auto l = dyn_cast<LinearOp>(user);
        return l && l.getWeight() == w.getResult();
      });
      // A weight whose rows do not fill the wider groups takes the 8-row one.
      int rowGroup = p->layout.rows % interleave == 0 ? int(interleave)
                                                      : ::lowbit::kInterleavedRows;
      // NF4/FP4 read by linears only run in the integer kernels through
      // their int8 codebook.
      if (onlyLinears && p->layout.family == ::lowbit::KernelFamily::Lut &&
          p->layout.rows % rowGroup == 0)
        ::lowbit::useInt8Codebook(*p);
      if (onlyLinears && p->layout.family == ::lowbit::KernelFamily::Integer &&
          (p->layout.superBlock == 256 || p->layout.subBlock == 32) &&
          p->layout.rows % rowGroup == 0)
        ::lowbit::interleaveRows(*p, rowGroup);
      SectionRange r = append(p->bytes.data(), p->bytes.size());
      w->setAttr(::lowbit::kPackedAttr,
                 ::lowbit::rangeToAttr(ctx, r, p->layout.key(), &p->layout));
      if (p->layout.permutedColumns)
        w->setAttr(::lowbit::kColumnOrderAttr,
                   ::lowbit::rangeToAttr(ctx, append(p->columnOrder.data(),
                                                     p->columnOrder.size() * 4),
                                         "i32"));
    });
    if (failedAny)
      return signalPassFailure();
    if (llvm::Error e = ::lowbit::writeFileAtomically(output, [&](llvm::raw_pwrite_stream &os) {
          os.write(reinterpret_cast<const char *>(section.data()), section.size());
          return llvm::Error::success();
        })) {
      module.emitError(llvm::toString(std::move(e)));
      return signalPassFailure();
    }
  }
};
} // namespace
