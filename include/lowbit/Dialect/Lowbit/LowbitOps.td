//===- LowbitOps.td - lowbit ops ---------------------------*- tablegen -*-===//
//
// The ops of a model's @forward function. Activations are `tensor<?xWxf32>`
// (one row per token, the sequence length dynamic); weights are ranked float
// tensors or !lowbit.qweight. Every verifier checks the widths the op's
// semantics rely on, and the sequence lengths wherever both are static.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_DIALECT_LOWBIT_OPS_TD
#define LOWBIT_DIALECT_LOWBIT_OPS_TD

include "lowbit/Dialect/Lowbit/LowbitTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def Lowbit_HasStaticWidthPred : CPred<
    "!::mlir::ShapedType::isDynamic("
    "::llvm::cast<::mlir::ShapedType>($_self).getDimSize(1))">;

// Activations: one row per token; the sequence length may be dynamic, the
// width may not.
def Lowbit_Activation : RankedTensorOf<[F32],
    [HasAnyRankOfPred<[2]>, Lowbit_HasStaticWidthPred],
    "2D tensor with a static width">;
// Token ids and positions.
def Lowbit_Ids : 1DTensorOf<[I32]>;
// A stored float vector (norm weights, biases).
def Lowbit_FloatVector : RankedTensorOf<[AnyFloat],
    [HasAnyRankOfPred<[1]>, HasStaticShapePred],
    "1D statically shaped tensor">;
// A stored matrix [rows, columns]: float, or quantized.
def Lowbit_Matrix : AnyTypeOf<[
    RankedTensorOf<[AnyFloat], [HasAnyRankOfPred<[2]>, HasStaticShapePred],
                   "2D statically shaped tensor">,
    Lowbit_QuantizedWeightType],
    "2D statically shaped float tensor or quantized weight">;
// Anything the weight store can hold.
def Lowbit_StoredTensor : AnyTypeOf<[StaticShapeTensorOf<[AnyFloat]>,
                                     Lowbit_QuantizedWeightType],
    "statically shaped float tensor or quantized weight">;

// The KV cache written and read by lowbit.attention.
def Lowbit_KVCache : Resource<"::mlir::lowbit::KVCacheResource">;

//===----------------------------------------------------------------------===//
// lowbit.weight
//===----------------------------------------------------------------------===//

def Lowbit_WeightOp : Lowbit_Op<"weight", [Pure]> {
  let summary = "a tensor of the weight store";
  let description = [{
    The stored tensor `name` of the module's weight store (the files of
    `lowbit.weight_files`), with its stored type: a ranked float tensor of
    static shape, or a `!lowbit.qweight`.

    ```mlir
    %w = lowbit.weight "model.layers.0.self_attn.q_proj.weight" : tensor<256x256xbf16>
    ```
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs Lowbit_StoredTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// lowbit.embedding
//===----------------------------------------------------------------------===//

def Lowbit_EmbeddingOp : Lowbit_Op<"embedding", [Pure]> {
  let summary = "token embedding lookup";
  let description = [{
    Row `tokens[i]` of the `[V, D]` table, as f32, for every token.

    ```mlir
    %x = lowbit.embedding %tokens, %table : (tensor<?xi32>, tensor<4096x256xbf16>) -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins Lowbit_Ids:$tokens, Lowbit_Matrix:$table);
  let results = (outs Lowbit_Activation:$result);
  let assemblyFormat =
      "$tokens `,` $table attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// lowbit.rms_norm
//===----------------------------------------------------------------------===//

def Lowbit_RmsNormOp : Lowbit_Op<"rms_norm", [Pure]> {
  let summary = "root-mean-square normalisation";
  let description = [{
    `x / sqrt(mean(x²) + epsilon) · weight`, row by row.

    ```mlir
    %h = lowbit.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<?x256xf32>, tensor<256xbf16>) -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins Lowbit_Activation:$input, Lowbit_FloatVector:$weight,
                       F32Attr:$epsilon);
  let results = (outs Lowbit_Activation:$result);
  let assemblyFormat =
      "$input `,` $weight attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// lowbit.linear
//===----------------------------------------------------------------------===//

def Lowbit_LinearOp : Lowbit_Op<"linear", [Pure]> {
  let summary = "x · wᵀ + b";
  let description = [{
    Multiplies every row of `input` (`[S, K]`) by the `[N, K]` weight,
    transposed, and adds the optional `bias` of length N. The weight is a
    float tensor or a `!lowbit.qweight`.

    ```mlir
    %y = lowbit.linear %x, %w, %b : (tensor<?x256xf32>, !lowbit.qweight<512x256, #lowbit.scheme<...>>, tensor<512xf32>) -> tensor<?x512xf32>
    ```
  }];
  let arguments = (ins Lowbit_Activation:$input, Lowbit_Matrix:$weight,
                       Optional<Lowbit_FloatVector>:$bias);
  let results = (outs Lowbit_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// lowbit.split_columns
//===----------------------------------------------------------------------===//

def Lowbit_SplitColumnsOp : Lowbit_Op<"split_columns", [Pure]> {
  let summary = "separate chosen input columns from the rest";
  let description = [{
    LLM.int8()'s mixed-precision decomposition of a linear's input:
    `inliers` is `input` with the listed `columns` set to zero, `outliers`
    holds those columns, gathered in the listed order. `columns` is strictly
    increasing, non-empty and inside the input width.

    ```mlir
    %inl, %out = lowbit.split_columns %x {columns = array<i64: 3, 77>}
        : (tensor<?x256xf32>) -> (tensor<?x256xf32>, tensor<?x2xf32>)
    ```
  }];
  let arguments = (ins Lowbit_Activation:$input, DenseI64ArrayAttr:$columns);
  let results = (outs Lowbit_Activation:$inliers,
                      Lowbit_Activation:$outliers);
  let assemblyFormat =
      "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// lowbit.rope
//===----------------------------------------------------------------------===//

def Lowbit_RopeOp : Lowbit_Op<"rope", [Pure]> {
  let summary = "rotary position embedding";
  let description = [{
    Rotates each of the `num_heads` heads of `head_dim` values of a row by
    angles `position · theta^(-2i/head_dim)`. `interleaved = false` rotates
    the pairs (i, i + head_dim/2) (Hugging Face rotate-half); `true` rotates
    (2i, 2i+1) (GGUF / llama.cpp NORM mode).

    ```mlir
    %qr = lowbit.rope %q, %positions {num_heads = 4, head_dim = 64, theta = 10000.0 : f32, interleaved = false}
        : (tensor<?x256xf32>, tensor<?xi32>) -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins Lowbit_Activation:$input, Lowbit_Ids:$positions,
                       I64Attr:$num_heads, I64Attr:$head_dim, F32Attr:$theta,
                       BoolAttr:$interleaved);
  let results = (outs Lowbit_Activation:$result);
  let assemblyFormat =
      "$input `,` $positions attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// lowbit.attention
//===----------------------------------------------------------------------===//

// Not Pure: it appends k and v to the KV cache slot `layer` and reads every
// cached position, so two identical calls are not one and an unused one still
// matters to later tokens.
def Lowbit_AttentionOp : Lowbit_Op<"attention", [
    MemoryEffects<[MemRead<Lowbit_KVCache>, MemWrite<Lowbit_KVCache>]>]> {
  let summary = "causal grouped-query attention over the KV cache";
  let description = [{
    Appends `key` and `value` to the KV cache slot `layer`, then computes
    `softmax(q · kᵀ / √head_dim) · v` for every query over the cached
    positions not after its own; query head `h` reads key/value head
    `h / (num_heads / num_kv_heads)`.

    ```mlir
    %a = lowbit.attention %q, %k, %v, %positions {num_heads = 4, num_kv_heads = 2, head_dim = 64, layer = 0}
        : (tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins Lowbit_Activation:$query, Lowbit_Activation:$key,
                       Lowbit_Activation:$value, Lowbit_Ids:$positions,
                       I64Attr:$num_heads, I64Attr:$num_kv_heads,
                       I64Attr:$head_dim, I64Attr:$layer);
  let results = (outs Lowbit_Activation:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $positions attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// lowbit.swiglu, lowbit.add
//===----------------------------------------------------------------------===//

// Both operands and the result have one type.
class Lowbit_ElementwiseBinaryOp<string mnemonic>
    : Lowbit_Op<mnemonic, [Pure]> {
  let results = (outs Lowbit_Activation:$result);
  let hasVerifier = 1;
}

def Lowbit_SwigluOp : Lowbit_ElementwiseBinaryOp<"swiglu"> {
  let summary = "silu(gate) · up";
  let description = [{
    The gated MLP activation of the gate and up projections; all three types
    are identical.

    ```mlir
    %m = lowbit.swiglu %g, %u : (tensor<?x768xf32>, tensor<?x768xf32>) -> tensor<?x768xf32>
    ```
  }];
  let arguments = (ins Lowbit_Activation:$gate, Lowbit_Activation:$up);
  let assemblyFormat =
      "$gate `,` $up attr-dict `:` functional-type(operands, results)";
}

def Lowbit_AddOp : Lowbit_ElementwiseBinaryOp<"add"> {
  let summary = "elementwise sum";
  let description = [{
    `lhs + rhs` (the residual connection); all three types are identical.

    ```mlir
    %r = lowbit.add %x, %o : (tensor<?x256xf32>, tensor<?x256xf32>) -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins Lowbit_Activation:$lhs, Lowbit_Activation:$rhs);
  let assemblyFormat =
      "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)";
}

#endif // LOWBIT_DIALECT_LOWBIT_OPS_TD
