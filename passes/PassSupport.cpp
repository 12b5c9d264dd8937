//===- PassSupport.cpp ----------------------------------------------------===//
#include "PassSupport.h"

#include "mlir/IR/Builders.h"
#include "llvm/Support/FileSystem.h"

using namespace mlir;

std::string mlir::lowbit::absolutePath(llvm::StringRef path) {
  SmallString<256> p(path);
  llvm::sys::fs::make_absolute(p);
  return std::string(p);
}

void mlir::lowbit::recordSideFile(ModuleOp module, llvm::StringRef path) {
  Builder b(module.getContext());
  SmallVector<Attribute> sides;
  if (auto old = module->getAttrOfType<ArrayAttr>("lowbit.side_files"))
    for (Attribute a : old)
      if (cast<StringAttr>(a).getValue() != path)
        sides.push_back(a);
  sides.push_back(b.getStringAttr(path));
  module->setAttr("lowbit.side_files", b.getArrayAttr(sides));
}
