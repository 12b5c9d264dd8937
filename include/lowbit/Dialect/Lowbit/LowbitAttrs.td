//===- LowbitAttrs.td - lowbit attributes ------------------*- tablegen -*-===//
//
// #lowbit.config (the model's hyper-parameters) and #lowbit.scheme (how a
// quantized weight is encoded).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_DIALECT_LOWBIT_ATTRS_TD
#define LOWBIT_DIALECT_LOWBIT_ATTRS_TD

include "lowbit/Dialect/Lowbit/LowbitDialect.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Parameters the upstream FieldParser does not cover
//===----------------------------------------------------------------------===//

// `true` / `false`, as in the rest of MLIR's syntax.
def Lowbit_BoolParameter : AttrParameter<"bool", ""> {
  let parser = "::mlir::lowbit::detail::parseBoolParameter($_parser)";
  let printer = "$_printer << ($_self ? \"true\" : \"false\")";
}

// A double, written as a float literal without a type. Stored as a
// StoredDouble (LowbitAttrs.h), which MLIR's storage uniquer can hash;
// built from and read as a plain double.
def Lowbit_F64Parameter : AttrParameter<"::mlir::lowbit::StoredDouble", "",
                                        "double"> {
  let cppStorageType = "double";
  let parser = "::mlir::lowbit::detail::parseDoubleParameter($_parser)";
  let printer = "$_printer << ::llvm::APFloat(double($_self))";
}

//===----------------------------------------------------------------------===//
// QuantFormat
//===----------------------------------------------------------------------===//

def Lowbit_QuantFormat : I32Enum<"QuantFormat", "weight encoding", [
  // Integer codes with a scale (and zero point when asymmetric) per group:
  // GPTQ, AWQ, round-to-nearest.
  I32EnumCase<"Affine", 0, "affine">,
  // ggml blocks of 32 values.
  I32EnumCase<"Q4_0", 1, "q4_0">,
  I32EnumCase<"Q4_1", 2, "q4_1">,
  I32EnumCase<"Q5_0", 3, "q5_0">,
  I32EnumCase<"Q5_1", 4, "q5_1">,
  I32EnumCase<"Q8_0", 5, "q8_0">,
  // ggml k-quant super-blocks of 256 values.
  I32EnumCase<"Q2_K", 6, "q2_k">,
  I32EnumCase<"Q3_K", 7, "q3_k">,
  I32EnumCase<"Q4_K", 8, "q4_k">,
  I32EnumCase<"Q5_K", 9, "q5_k">,
  I32EnumCase<"Q6_K", 10, "q6_k">,
  // 4-bit lookup-table codes (QLoRA NormalFloat, FP4 E2M1) with a scale per
  // group.
  I32EnumCase<"NF4", 11, "nf4">,
  I32EnumCase<"FP4", 12, "fp4">,
  // int8 codes with one scale per output channel.
  I32EnumCase<"Int8Row", 13, "int8_row">
]> {
  let cppNamespace = "::mlir::lowbit";
}

//===----------------------------------------------------------------------===//
// ConfigAttr
//===----------------------------------------------------------------------===//

def Lowbit_ConfigAttr : Lowbit_Attr<"Config", "config"> {
  let summary = "hyper-parameters of a decoder-only transformer";
  let description = [{
    Attached to the model module as `lowbit.config`. Every parameter is
    required:

    ```mlir
    #lowbit.config<arch = "llama", vocab_size = 4096, hidden_size = 256,
        intermediate_size = 768, num_layers = 4, num_heads = 4,
        num_kv_heads = 2, head_dim = 64, context_length = 1024,
        rms_norm_eps = 1.0e-05, rope_theta = 10000.0, bos_token_id = 1,
        eos_token_id = 2, tie_word_embeddings = false>
    ```

    Sizes are positive, `num_heads` is a multiple of `num_kv_heads`
    (grouped-query attention), `rms_norm_eps` and `rope_theta` are positive.
    A token id of -1 means the model has no such token.
  }];
  let parameters = (ins
    StringRefParameter<"architecture name (`llama`, ...)">:$arch,
    "int64_t":$vocab_size,
    "int64_t":$hidden_size,
    "int64_t":$intermediate_size,
    "int64_t":$num_layers,
    "int64_t":$num_heads,
    "int64_t":$num_kv_heads,
    "int64_t":$head_dim,
    "int64_t":$context_length,
    Lowbit_F64Parameter:$rms_norm_eps,
    Lowbit_F64Parameter:$rope_theta,
    "int64_t":$bos_token_id,
    "int64_t":$eos_token_id,
    Lowbit_BoolParameter:$tie_word_embeddings
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// QuantSchemeAttr
//===----------------------------------------------------------------------===//

def Lowbit_QuantSchemeAttr : Lowbit_Attr<"QuantScheme", "scheme"> {
  let summary = "encoding of a quantized weight";
  let description = [{
    ```mlir
    #lowbit.scheme<format = q8_0, bits = 8, group_size = 32, symmetric = true,
                   act_order = false>
    ```

    - `format`: `affine` (integer codes with a scale and, unless symmetric, a
      zero point per group), a ggml block format
      (`q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k`), `nf4`, `fp4` or
      `int8_row`.
    - `bits`: 2 to 8; every format but `affine` fixes it.
    - `group_size`: values sharing one scale along the input dimension, or -1
      for one group per output channel. A ggml format's group is its block
      (32, or 256 for the k-quants).
    - `act_order`: the weight carries a column permutation (GPTQ `g_idx`).
  }];
  let parameters = (ins
    EnumParameter<Lowbit_QuantFormat>:$format,
    "int64_t":$bits,
    "int64_t":$group_size,
    Lowbit_BoolParameter:$symmetric,
    Lowbit_BoolParameter:$act_order
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;

  let builders = [
    // The canonical scheme of a format with fixed parameters (every format
    // but `affine`): its bits, its block (ggml), 64 (nf4, fp4) or -1
    // (int8_row), and the symmetry of its encoding.
    AttrBuilder<(ins "QuantFormat":$format), [{
      assert(format != QuantFormat::Affine && "affine has no canonical scheme");
      return $_get($_ctxt, format, getFormatBits(format),
                   getFormatDefaultGroupSize(format), isFormatSymmetric(format),
                   /*act_order=*/false);
    }]>
  ];

  let extraClassDeclaration = [{
    /// True for the ggml block formats (q4_0 ... q6_k).
    bool isBlockFormat() const;
  }];
}

#endif // LOWBIT_DIALECT_LOWBIT_ATTRS_TD
