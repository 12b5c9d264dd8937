//===- Passes.td - lowbit code generation passes -----------*- tablegen -*-===//
//
// The lowering pipeline from a quantized model module to the kernels an
// artifact runs. Each pass records its decisions as attributes on the ops of
// @forward (docs/codegen.md lists them), so every step can be run alone and
// inspected with --mlir-print-ir-after-all.
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_CODEGEN_PASSES_TD
#define LOWBIT_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

def CodegenLegality : Pass<"lowbit-codegen-legality", "mlir::ModuleOp"> {
  let summary = "Check that every op and weight encoding of @forward has a kernel";
  let description = [{
    Reports, on each offending op, what the code generator cannot compile
    (an op without a kernel, an activation width that is not a multiple of
    32, an affine bit width without a kernel) and fails.
  }];
}

def FormDispatches : Pass<"lowbit-form-dispatches", "mlir::ModuleOp"> {
  let summary = "Group the ops of @forward into the artifact's dispatches";
  let description = [{
    Marks the fusions the kernels implement:
    - `lowbit.fused` on a residual `lowbit.add` whose summand is a linear with
      no other user and whose other summand already exists: the linear writes
      the sum itself (one dispatch, one barrier, instead of two);
    - `lowbit.last_token_only` on the ops after the last residual add (final
      norm, lm_head), which only the last token needs during generation.
    Linears that read the same activation share one int8 rounding of it
    (decided with the kernel layouts, by --lowbit-generate-kernels).
  }];
  let options = [
    Option<"fuseResidual", "fuse-residual", "bool", /*default=*/"true",
           "Fuse a linear into the residual add that consumes it">,
  ];
}

def PackWeights : Pass<"lowbit-pack-weights", "mlir::ModuleOp"> {
  let summary = "Re-lay out every weight into the layout its kernel reads";
  let description = [{
    Packs each weight read by a linear or an embedding into one of the kernel
    families of WeightPacking.h (Float, Integer, Lut), and norm weights and
    biases into f32, and writes them (64-byte aligned) to `output`, the
    artifact's weight section. Each `lowbit.weight` op records where its
    bytes are and how they are laid out in `lowbit.packed`; act-order
    weights add `lowbit.column_order`, split_columns ops `lowbit.packed_columns`.
  }];
  let options = [
    Option<"output", "output", "std::string", /*default=*/"",
           "File receiving the packed weights (required)">,
    Option<"interleave", "interleave", "int", /*default=*/"8",
           "Row group of the interleaved integer layouts: 8 (256-bit kernels) "
           "or 16 (512-bit kernels)">,
  ];
}

def GenerateKernels : Pass<"lowbit-generate-kernels", "mlir::ModuleOp"> {
  let summary = "Build the kernels of every dispatch in upstream dialects";
  let description = [{
    Creates a nested `module @kernels` holding one func.func per distinct
    (op, layout, shape, target) written in scf, vector, arith, math and llvm
    (x86 intrinsics), and records on each op of @forward the kernels of its
    dispatch in `lowbit.kernels` (a dictionary from role to symbol).
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"native\"",
           "x86-64-v3, x86-64-v4 or native">,
  ];
  let dependentDialects = ["mlir::func::FuncDialect", "mlir::arith::ArithDialect",
                           "mlir::scf::SCFDialect", "mlir::vector::VectorDialect",
                           "mlir::math::MathDialect", "mlir::LLVM::LLVMDialect"];
}

def LowerKernels : Pass<"lowbit-lower-kernels", "mlir::ModuleOp"> {
  let summary = "Lower the nested @kernels module to the llvm dialect";
  let description = [{
    Runs the upstream conversions (vector exp as a polynomial, scf to cf,
    vector, math, arith, cf and func to llvm) on `module @kernels`, ready for
    translation to LLVM IR.
  }];
}

#endif // LOWBIT_CODEGEN_PASSES_TD
