//===- Passes.td - lowbit passes ---------------------------*- tablegen -*-===//
#ifndef LOWBIT_PASSES_TD
#define LOWBIT_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertWeights : Pass<"lowbit-convert-weights", "mlir::ModuleOp"> {
  let summary = "Re-encode float weight matrices (f32, f16, bf16) into a side file";
  let description = [{
    Converts every float weight matrix named by a `lowbit.weight` op to
    `dtype`, writes the converted tensors to `side-file` (safetensors, written
    atomically), appends that file to the module's `lowbit.side_files` and
    retypes the weight ops. Tensor names do not change: side-file tensors
    shadow the originals, so exports still map names one to one. Vectors
    (norms, biases) and quantized weights are left alone.

    ```
    lowbit-opt model.mlir --lowbit-convert-weights="dtype=f16 side-file=model.f16.safetensors"
    ```
  }];
  let options = [
    Option<"dtype", "dtype", "std::string", /*default=*/"\"f16\"",
           "Target encoding: f32, f16 or bf16">,
    Option<"sideFile", "side-file", "std::string", /*default=*/"",
           "Safetensors file receiving the converted tensors (required)">,
  ];
}

#endif // LOWBIT_PASSES_TD
