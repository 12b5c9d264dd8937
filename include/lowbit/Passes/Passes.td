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

def GgufQuantize : Pass<"lowbit-gguf-quantize", "mlir::ModuleOp"> {
  let summary = "Quantize weight matrices to ggml block formats with llama.cpp's mixes";
  let description = [{
    Gives every weight matrix the ggml type llama-quantize would give it for
    `ftype` (`q4_k_m`, `q6_k`, `q4_0`, ...; `pure` disables the per-tensor
    mix), writes the packed blocks to `side-file` (a GGUF file, written
    atomically) and retypes the `lowbit.weight` ops as `!lowbit.qweight`.
    Norms and biases are left in float. The module records the file type in
    `lowbit.gguf_file_type`, which `--export-gguf` writes as
    `general.file_type`.

    ```
    lowbit-opt model.mlir --lowbit-gguf-quantize="ftype=q4_k_m side-file=model.q4_k_m.gguf"
    ```

    With `gptq`, the decoder linears are quantized one layer at a time on the
    outputs of the layers already quantized (as `--lowbit-gptq` does), and
    GPTQ chooses their codes: each block's scales and mins come from
    llama.cpp's importance-weighted search run on the error-updated weights
    when the block's first column is reached, and each value is rounded on
    that grid with its error spread over the columns still to come. Then
    `descent-sweeps` sweeps of coordinate descent revisit every block
    parameter (sub-block scale and min codes, d, dmin) and every code with
    all the others known, each moved only where it lowers the same
    layer-output error. With `float-targets`, the float model runs beside
    the one being quantized and every linear, the output head included, is
    aimed at the float model's output on the quantized model's inputs, so
    each layer also corrects what the layers before it left. The file stays
    plain GGUF with llama-quantize's per-tensor types.

    With `budget`, the per-tensor types come from a size budget instead of
    llama-quantize's rules: the model runs on `sensitivity-windows` windows of
    `file` with each matrix alone quantized to q3_k, and the divergence of
    its next-token distributions, scaled by each type's activation-weighted
    error, predicts every (matrix, type) loss; the mix with the least
    predicted loss whose matrices fit the budget is chosen exactly.
  }];
  let options = [
    Option<"ftype", "ftype", "std::string", /*default=*/"\"q4_k_m\"",
           "llama.cpp file type (q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k_s, "
           "q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k)">,
    Option<"sideFile", "side-file", "std::string", /*default=*/"",
           "GGUF file receiving the quantized tensors (required)">,
    Option<"pure", "pure", "bool", /*default=*/"false",
           "Use the file type's default type for every matrix">,
    Option<"imatrix", "imatrix", "std::string", /*default=*/"",
           "Importance matrix weighting the block-scale searches: a llama.cpp "
           "imatrix (.dat) or lowbit calibration statistics "
           "(--lowbit-calibrate output)">,
    Option<"gptq", "gptq", "bool", /*default=*/"false",
           "Round the decoder linears with GPTQ inside the ggml blocks, on "
           "Hessians from layer-by-layer calibration on `file`">,
    Option<"file", "file", "std::string", /*default=*/"",
           "Calibration text (with gptq; default: the text of the statistics "
           "recorded by --lowbit-calibrate)">,
    Option<"windows", "windows", "int64_t", /*default=*/"128",
           "Calibration windows (with gptq)">,
    Option<"windowLength", "window-length", "int64_t", /*default=*/"512",
           "Tokens per calibration window (with gptq)">,
    Option<"seed", "seed", "uint64_t", /*default=*/"0",
           "Seed of the calibration window offsets (with gptq)">,
    Option<"bosWindows", "bos-windows", "bool", /*default=*/"false",
           "Calibration windows led by BOS and cut at random character "
           "offsets, as the reference GPTQ/AWQ cut theirs">,
    Option<"dampPercent", "damp", "double", /*default=*/"0.01",
           "GPTQ damping: fraction of mean(diag H) added to the diagonal">,
    Option<"actOrder", "act-order", "bool", /*default=*/"false",
           "GPTQ in order of decreasing H[k, k]; the blocks' scales are then "
           "fitted up front on the original weights (a ggml block holds no "
           "permutation)">,
    Option<"floatTargets", "float-targets", "bool", /*default=*/"false",
           "With gptq=true: run the float model beside the one being "
           "quantized and aim each linear at the float model's output on "
           "the quantized model's inputs, correcting the error the layers "
           "before left; the output head is quantized too (twice the "
           "calibration work; no resume)">,
    Option<"descentSweeps", "descent-sweeps", "int64_t", /*default=*/"4",
           "With gptq=true: sweeps of exact coordinate descent over each "
           "matrix's block scales, mins and codes after GPTQ, lowering the "
           "same layer-output error (0: GPTQ's result as it is)">,
    Option<"budget", "budget", "std::string", /*default=*/"\"\"",
           "Size-budgeted mix instead of llama-quantize's: bits per weight "
           "(4.85), bytes of the matrices (17104192B) or a file type whose "
           "fixed mix sets the bytes (q4_k_m); each matrix gets the type "
           "among q2_k..q8_0 that minimises the measured loss increase">,
    Option<"sensitivityWindows", "sensitivity-windows", "int64_t",
           /*default=*/"32",
           "Calibration windows the budget's per-tensor sensitivities are "
           "measured on">,
    Option<"memoryBudget", "memory-budget", "std::string", /*default=*/"",
           "With gptq=true: memory for one layer's work plus the calibration "
           "activations (e.g. 6G; default half of physical memory)">,
    Option<"resume", "resume", "bool", /*default=*/"false",
           "With gptq=true: keep a resume point (SIDE.gptq.resume) after every "
           "layer and continue from one an interrupted run left">,
  ];
}

def Calibrate : Pass<"lowbit-calibrate", "mlir::ModuleOp"> {
  let summary = "Record per-linear activation statistics on calibration text";
  let description = [{
    Runs the model with the reference interpreter on `windows` windows of
    `window-length` tokens drawn at seeded random offsets from the tokenized
    `file` (as GPTQ draws its calibration samples), and records for every
    linear input the per-channel mean square (llama.cpp's importance matrix),
    mean |x| and max |x|, and, with `hessian`, GPTQ's H = 2/n XᵀX. The
    statistics are saved to `output` (protobuf, written atomically) and the
    module records that file's absolute path in `lowbit.calibration` for the
    quantization passes. The IR is otherwise unchanged.

    ```
    lowbit-opt model.mlir --lowbit-calibrate="file=calib.txt output=model.stats.pb"
    ```
  }];
  let options = [
    Option<"file", "file", "std::string", /*default=*/"",
           "Calibration text (required)">,
    Option<"windows", "windows", "int64_t", /*default=*/"128",
           "Number of windows drawn from the text">,
    Option<"windowLength", "window-length", "int64_t", /*default=*/"512",
           "Tokens per window">,
    Option<"seed", "seed", "uint64_t", /*default=*/"0",
           "Seed of the window offsets">,
    Option<"bosWindows", "bos-windows", "bool", /*default=*/"false",
           "Calibration windows led by BOS and cut at random character "
           "offsets, as the reference GPTQ/AWQ cut theirs">,
    Option<"hessian", "hessian", "bool", /*default=*/"true",
           "Also collect the GPTQ Hessian 2/n X^T X of every linear input">,
    Option<"output", "output", "std::string", /*default=*/"",
           "Statistics file to write (required)">,
    Option<"imatrixOutput", "imatrix-output", "std::string", /*default=*/"",
           "Also write the per-column mean squares as a llama.cpp imatrix "
           "(.dat) file">,
  ];
}

def Rtn : Pass<"lowbit-rtn", "mlir::ModuleOp"> {
  let summary = "Round-to-nearest integer quantization of the decoder's linears";
  let description = [{
    The baseline every calibrated method is compared with: each group of
    `group-size` inputs of every output row of the decoder layers' linear
    weights (q, k, v, o, gate, up, down; embeddings and the output head stay
    in float, as GPTQ and AWQ leave them) gets a scale and, unless `sym`, a
    zero point on the reference GPTQ quantizer's grid, and weights round to
    the nearest code. Codes, scales and zeros go to `side-file`
    (safetensors); the weights are retyped as
    `!lowbit.qweight<..., #lowbit.scheme<format = affine, ...>>`.

    ```
    lowbit-opt model.mlir --lowbit-rtn="bits=4 group-size=128 side-file=model.rtn.safetensors"
    ```
  }];
  let options = [
    Option<"bits", "bits", "int", /*default=*/"4", "Bits per weight (2-8)">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"128",
           "Inputs per scale (-1: one group per output channel)">,
    Option<"sym", "sym", "bool", /*default=*/"false",
           "Symmetric grid (no zero point)">,
    Option<"sideFile", "side-file", "std::string", /*default=*/"",
           "Safetensors file receiving codes, scales and zeros (required)">,
  ];
}

def Bnb4Bit : Pass<"lowbit-bnb-4bit", "mlir::ModuleOp"> {
  let summary = "bitsandbytes NF4 / FP4 blockwise 4-bit quantization";
  let description = [{
    Quantizes the decoder layers' linear weights the way bitsandbytes'
    Linear4bit does (QLoRA, Dettmers et al., 2023): each block of
    `block-size` consecutive weights keeps its absmax, and every weight
    becomes the index of the nearest NF4 or FP4 codebook value (two per
    byte, first in the high nibble). With `double-quant` the absmax values
    are themselves quantized to 8 bits (blocks of 256, bitsandbytes' dynamic
    map, around their mean). Embeddings, norms and the output head stay in
    float, as transformers leaves them. The tensors go to `side-file`
    (safetensors, layout in docs/ir.md); the weights are retyped as
    `!lowbit.qweight<..., #lowbit.scheme<format = nf4, bits = 4,
    group_size = BLOCK, ...>>`.

    ```
    lowbit-opt model.mlir --lowbit-bnb-4bit="quant-type=nf4 double-quant=true side-file=model.nf4.safetensors"
    ```
  }];
  let options = [
    Option<"quantType", "quant-type", "std::string", /*default=*/"\"nf4\"",
           "Codebook: nf4 or fp4">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"64",
           "Weights per absmax: a power of two from 64 to 4096 that divides "
           "every input width">,
    Option<"doubleQuant", "double-quant", "bool", /*default=*/"false",
           "Quantize the absmax values to 8 bits as well">,
    Option<"sideFile", "side-file", "std::string", /*default=*/"",
           "Safetensors file receiving the packed codes and absmax values "
           "(required)">,
  ];
}

def Gptq : Pass<"lowbit-gptq", "mlir::ModuleOp"> {
  let summary = "GPTQ: Hessian-aware rounding of the decoder's linears";
  let description = [{
    Quantizes the decoder layers' linear weights with GPTQ (Frantar et al.,
    2022) to the affine format of `--lowbit-rtn`. Layer by layer and, inside
    a layer, group by group (q/k/v, then o, then gate/up, then down: the
    reference's true-sequential order), each group's Hessian H = 2XᵀX/n is
    collected on calibration windows that ran through the already quantized
    part of the model, then the weights are rounded column by column with the
    error compensated through the Cholesky factor of H⁻¹. `act-order`
    processes columns by decreasing Hessian diagonal (g_idx records each
    column's group); `static-groups` fixes group parameters up front. With
    `sequential=false` the Hessians of the float model saved by
    `--lowbit-calibrate` are used instead (one calibration, many runs).

    Layers stream: each is widened to fp32 when the calibration windows
    reach it and dropped after, and its results go to the side file as soon
    as it is done, so memory does not grow with depth. With `resume=true` a
    resume point is kept after every layer; the same command run again after
    a kill continues from the last finished layer.

    ```
    lowbit-opt model.mlir --lowbit-gptq="file=calib.txt bits=4 group-size=128 side-file=model.gptq.safetensors"
    ```
  }];
  let options = [
    Option<"bits", "bits", "int", /*default=*/"4", "Bits per weight (2, 3, 4 or 8)">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"128",
           "Inputs per scale (-1: one group per output channel)">,
    Option<"sym", "sym", "bool", /*default=*/"false",
           "Symmetric grid (no zero point)">,
    Option<"actOrder", "act-order", "bool", /*default=*/"false",
           "Process columns by decreasing Hessian diagonal (desc_act)">,
    Option<"staticGroups", "static-groups", "bool", /*default=*/"false",
           "Group parameters from the original contiguous groups">,
    Option<"dampPercent", "damp", "double", /*default=*/"0.01",
           "Dampening added to the Hessian diagonal, as a fraction of its mean">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "Columns per lazy-batch update">,
    Option<"mse", "mse", "bool", /*default=*/"true",
           "Search each group's range for the least error (shrink grid); "
           "false: the reference's min/max range">,
    Option<"trueSequential", "true-sequential", "bool", /*default=*/"true",
           "Quantize q/k/v, o, gate/up and down one after another inside a "
           "layer, each calibrated after the previous ones">,
    Option<"sequential", "sequential", "bool", /*default=*/"true",
           "Calibrate layer i on the quantized layers before it; false uses "
           "the float model's Hessians from --lowbit-calibrate">,
    Option<"file", "file", "std::string", /*default=*/"",
           "Calibration text (default: the text recorded by --lowbit-calibrate "
           "in the module's statistics)">,
    Option<"windows", "windows", "int64_t", /*default=*/"128",
           "Calibration windows">,
    Option<"windowLength", "window-length", "int64_t", /*default=*/"512",
           "Tokens per calibration window">,
    Option<"seed", "seed", "uint64_t", /*default=*/"0",
           "Seed of the window offsets">,
    Option<"bosWindows", "bos-windows", "bool", /*default=*/"false",
           "Calibration windows led by BOS and cut at random character "
           "offsets, as the reference GPTQ/AWQ cut theirs">,
    Option<"sideFile", "side-file", "std::string", /*default=*/"",
           "Safetensors file receiving codes, scales, zeros and g_idx (required)">,
    Option<"singlePrecision", "single-precision", "bool", /*default=*/"false",
           "Factor the Hessian in float instead of double (half the memory "
           "of a wide layer's factorization)">,
    Option<"memoryBudget", "memory-budget", "std::string", /*default=*/"",
           "Memory for one layer's work plus the calibration activations "
           "(e.g. 6G; default half of physical memory); activations past it "
           "spill to a temporary folder next to the side file">,
    Option<"resume", "resume", "bool", /*default=*/"false",
           "Keep a resume point (SIDE.resume) after every layer and continue "
           "from one an interrupted run with the same model and options left">,
  ];
}

def Awq : Pass<"lowbit-awq", "mlir::ModuleOp"> {
  let summary = "AWQ: activation-aware scaling and clipping, then rounding";
  let description = [{
    Quantizes the decoder layers' linear weights with AWQ (Lin et al., 2023):
    layer by layer, on calibration windows that ran through the already
    quantized layers, it searches for each group of linears sharing an input
    a per-input-channel scale s = mean|x|^α (α on a grid of `grid` points),
    folds 1/s into the preceding rms_norm (q/k/v, gate/up) or linear (down
    into up; o into v when their widths match), so the float model is
    unchanged, then searches a per-group clipping range, and rounds to the
    affine format with zero point. With `gptq=true` the final rounding is
    GPTQ's instead of round-to-nearest. Rescaled norms and linears go to the
    side file with the codes.

    ```
    lowbit-opt model.mlir --lowbit-awq="file=calib.txt bits=4 group-size=128 side-file=model.awq.safetensors"
    ```

    With `ftype` (a llama.cpp file type such as q4_k_m), the scales are
    searched for the ggml type that mix gives each linear (llama.cpp's own
    block fitting as the quantizer, weighted by the scaled inputs' mean
    squares), there is no clip search, and the side file holds the folded
    float model: the linears times s and the norms or producer rows over s,
    which compute what the original does. `--lowbit-gguf-quantize` (best with
    `gptq=true`, which calibrates on the folded model) then writes the GGUF.
  }];
  let options = [
    Option<"bits", "bits", "int", /*default=*/"4", "Bits per weight (2-8)">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"128",
           "Inputs per scale">,
    Option<"ftype", "ftype", "std::string", /*default=*/"\"\"",
           "Search the scales for this llama.cpp mix's ggml types (q4_k_m, "
           "q2_k, ...) and write the folded float model for "
           "--lowbit-gguf-quantize instead of affine codes">,
    Option<"grid", "grid", "int", /*default=*/"20",
           "Points of the α grid of the scale search">,
    Option<"clip", "clip", "bool", /*default=*/"true",
           "Search per-group clipping ranges">,
    Option<"samples", "samples", "int64_t", /*default=*/"4096",
           "Calibration tokens kept per group for the searches">,
    Option<"gptq", "gptq", "bool", /*default=*/"false",
           "Round the scaled weights with GPTQ instead of to nearest">,
    Option<"blockWindows", "block-windows", "int64_t", /*default=*/"0",
           "Calibration windows replayed to score the scales of q/k/v on the "
           "attention output and of gate/up on the MLP output (0: score each "
           "linear's own output)">,
    Option<"scaleOnHessian", "scale-tokens-all", "bool", /*default=*/"false",
           "Score each linear's own output on every calibration token "
           "(through XᵀX) instead of on `samples` sampled tokens">,
    Option<"alignSamples", "align-samples", "bool", /*default=*/"false",
           "Sample positions 0, s, 2s, ... of every calibration window "
           "(position 0, the attention sink, in each) instead of positions "
           "that shift from window to window">,
    Option<"sequential", "sequential", "bool", /*default=*/"true",
           "Calibrate each layer on the outputs of the quantized layers before "
           "it (false: on the float model's, as the reference AWQ does)">,
    Option<"file", "file", "std::string", /*default=*/"",
           "Calibration text (default: the text recorded by --lowbit-calibrate "
           "in the module's statistics)">,
    Option<"windows", "windows", "int64_t", /*default=*/"128",
           "Calibration windows">,
    Option<"windowLength", "window-length", "int64_t", /*default=*/"512",
           "Tokens per calibration window">,
    Option<"seed", "seed", "uint64_t", /*default=*/"0",
           "Seed of the window offsets">,
    Option<"bosWindows", "bos-windows", "bool", /*default=*/"false",
           "Calibration windows led by BOS and cut at random character "
           "offsets, as the reference GPTQ/AWQ cut theirs">,
    Option<"sideFile", "side-file", "std::string", /*default=*/"",
           "Safetensors file receiving codes, scales, zeros and rescaled "
           "neighbours (required)">,
    Option<"memoryBudget", "memory-budget", "std::string", /*default=*/"",
           "Memory for one layer's work plus the calibration activations "
           "(e.g. 6G; default half of physical memory); activations past it "
           "spill to a temporary folder next to the side file">,
    Option<"resume", "resume", "bool", /*default=*/"false",
           "Keep a resume point (SIDE.resume) after every layer and continue "
           "from one an interrupted run with the same model and options left">,
  ];
}

def LlmInt8 : Pass<"lowbit-llm-int8", "mlir::ModuleOp"> {
  let summary = "LLM.int8(): int8 weights with 16-bit outlier columns";
  let description = [{
    Quantizes the decoder layers' linear weights the way bitsandbytes'
    Linear8bitLt does (LLM.int8(), Dettmers et al., 2022): per output row,
    absmax scale SCB and int8 codes CB, retyped as
    `!lowbit.qweight<..., #lowbit.scheme<format = int8_row, ...>>`. Input
    columns whose calibration max |x| (from the statistics
    `--lowbit-calibrate` recorded in `lowbit.calibration`) reaches
    `threshold` are outliers: a `lowbit.split_columns` takes them out of the
    int8 product and a second linear multiplies them with the matching
    weight columns, dequantized and stored as f16 in NAME.outliers; the two
    results are added. bitsandbytes finds outlier columns anew in every
    batch; here they are fixed by calibration. CB (i8 NAME), SCB (f32
    NAME.scb) and the outlier columns go to `side-file` (safetensors); the
    module records the threshold in `lowbit.llm_int8_threshold`.

    ```
    lowbit-opt model.mlir --lowbit-calibrate="file=calib.txt output=stats.pb" \
        --lowbit-llm-int8="threshold=6.0 side-file=model.int8.safetensors"
    ```
  }];
  let options = [
    Option<"threshold", "threshold", "double", /*default=*/"6.0",
           "Calibration max |x| from which an input column is an outlier "
           "(positive; a huge value gives pure int8)">,
    Option<"sideFile", "side-file", "std::string", /*default=*/"",
           "Safetensors file receiving CB, SCB and the outlier columns "
           "(required)">,
  ];
}

#endif // LOWBIT_PASSES_TD
