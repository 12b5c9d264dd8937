//===- LowbitTypes.td - lowbit types -----------------------*- tablegen -*-===//

#ifndef LOWBIT_DIALECT_LOWBIT_TYPES_TD
#define LOWBIT_DIALECT_LOWBIT_TYPES_TD

include "lowbit/Dialect/Lowbit/LowbitAttrs.td"

def Lowbit_QuantizedWeightType : Lowbit_Type<"QuantizedWeight", "qweight"> {
  let summary = "a weight matrix stored in a quantized encoding";
  let description = [{
    `!lowbit.qweight<NxK, #lowbit.scheme<...>>` is a weight of logical shape
    `[N, K]` (N output channels, K inputs) whose stored bytes follow the
    scheme. Groups run along K, so the group size (the block of a ggml
    format) divides K.

    ```mlir
    !lowbit.qweight<512x256, #lowbit.scheme<format = q8_0, bits = 8,
        group_size = 32, symmetric = true, act_order = false>>
    ```
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t", "logical shape [N, K]">:$shape,
    AttrParameter<"QuantSchemeAttr", "encoding">:$scheme
  );
  let builders = [
    TypeBuilderWithInferredContext<(ins "::llvm::ArrayRef<int64_t>":$shape,
                                        "QuantSchemeAttr":$scheme), [{
      return $_get(scheme.getContext(), shape, scheme);
    }]>
  ];
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;

  let extraClassDeclaration = [{
    /// N, the number of output channels (rows).
    int64_t getOutputWidth() const { return getShape()[0]; }
    /// K, the number of inputs (columns).
    int64_t getInputWidth() const { return getShape()[1]; }
  }];
}

#endif // LOWBIT_DIALECT_LOWBIT_TYPES_TD
