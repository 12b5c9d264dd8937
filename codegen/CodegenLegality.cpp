//===- CodegenLegality.cpp - --lowbit-codegen-legality --------------------===//
#include "lowbit/Codegen/Compile.h"
#include "lowbit/Codegen/Passes.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_CODEGENLEGALITY
#include "lowbit/Codegen/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;

namespace {
struct CodegenLegalityPass
    : mlir::lowbit::impl::CodegenLegalityBase<CodegenLegalityPass> {
  void runOnOperation() override {
    if (failed(::lowbit::checkCodegenLegality(getOperation())))
      signalPassFailure();
  }
};
} // namespace
