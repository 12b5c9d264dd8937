//===- LowbitDialect.td - The lowbit dialect ---------------*- tablegen -*-===//
//
// The dialect definition and the base classes every lowbit attribute, type and
// op derives from. The IR contract is docs/ir.md.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_DIALECT_LOWBIT_DIALECT_TD
#define LOWBIT_DIALECT_LOWBIT_DIALECT_TD

include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/OpBase.td"

def Lowbit_Dialect : Dialect {
  let name = "lowbit";
  let cppNamespace = "::mlir::lowbit";
  let summary = "Quantized decoder-only language models";
  let description = [{
    A model is one `builtin.module` holding `func.func @forward(%tokens,
    %positions)`, written with the ops of this dialect. Weights are never
    inlined: `lowbit.weight` names a tensor of the module's weight store
    (the files listed in `lowbit.weight_files`). The model's hyper-parameters
    live in the `lowbit.config` module attribute.
  }];

  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  // lowbit.config, lowbit.weight_files and lowbit.tokenizer on the module.
  let hasOperationAttrVerify = 1;

  let extraClassDeclaration = [{
  private:
    // Defined beside the attribute and type definitions so that each
    // translation unit includes only its own generated code.
    void registerAttributes();
    void registerTypes();

  public:
    static constexpr ::llvm::StringLiteral kConfigAttrName = "lowbit.config";
    static constexpr ::llvm::StringLiteral kWeightFilesAttrName =
        "lowbit.weight_files";
    static constexpr ::llvm::StringLiteral kTokenizerAttrName =
        "lowbit.tokenizer";
    // Files holding tensors written by passes; their tensors shadow those of
    // the weight files, and later side files shadow earlier ones.
    static constexpr ::llvm::StringLiteral kSideFilesAttrName =
        "lowbit.side_files";
  }];
}

class Lowbit_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Lowbit_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

class Lowbit_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Lowbit_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

class Lowbit_Op<string mnemonic, list<Trait> traits = []>
    : Op<Lowbit_Dialect, mnemonic, traits>;

#endif // LOWBIT_DIALECT_LOWBIT_DIALECT_TD
