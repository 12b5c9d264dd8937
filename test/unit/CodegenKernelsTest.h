//===- CodegenKernelsTest.h - Compile generated kernels and call them ------===//
//
// Builds kernels with KernelBuilder, emits them as a shared object, loads it
// with dlopen and calls them through the artifact ABI
// void(void *const *args, int64_t tokens, int64_t thread, int64_t threads).
//
//===----------------------------------------------------------------------===//
#ifndef LOWBIT_TEST_UNIT_CODEGENKERNELSTEST_H
#define LOWBIT_TEST_UNIT_CODEGENKERNELSTEST_H

#include "lowbit/Codegen/EmitObject.h"
#include "lowbit/Codegen/Kernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace lowbit::test {

using KernelFn = void (*)(void *const *, int64_t, int64_t, int64_t);

/// A scratch directory removed with everything in it.
class ScratchDir {
public:
  ScratchDir() {
    llvm::SmallString<128> d;
    if (!llvm::sys::fs::createUniqueDirectory("lowbit-codegen-test", d))
      dir = std::string(d);
  }
  ~ScratchDir() {
    if (!dir.empty())
      llvm::sys::fs::remove_directories(dir);
  }
  std::string file(llvm::StringRef name) const {
    llvm::SmallString<128> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }
  bool ok() const { return !dir.empty(); }

private:
  std::string dir;
};

/// An MLIR context and kernel module; compile() turns it into a loaded
/// shared object whose kernels lookup() finds.
class KernelHarness {
public:
  explicit KernelHarness(llvm::StringRef targetName)
      : target(*resolveCpuTarget(targetName)) {
    ctx.loadDialect<mlir::func::FuncDialect, mlir::arith::ArithDialect,
                    mlir::scf::SCFDialect, mlir::vector::VectorDialect,
                    mlir::math::MathDialect, mlir::LLVM::LLVMDialect>();
    module = mlir::ModuleOp::create(mlir::UnknownLoc::get(&ctx), "kernels");
    builder = std::make_unique<KernelBuilder>(*module, target);
  }
  ~KernelHarness() {
    if (handle)
      dlclose(handle);
  }

  KernelBuilder &kb() { return *builder; }

  /// Lowers and links the module and loads it; a failure is reported with
  /// ADD_FAILURE and leaves lookup() returning null.
  bool compile() {
    llvm::Expected<EmittedCode> code = emitSharedObject(*module, target);
    if (!code) {
      ADD_FAILURE() << "emitSharedObject: " << llvm::toString(code.takeError());
      return false;
    }
    if (!scratch.ok()) {
      ADD_FAILURE() << "no scratch directory";
      return false;
    }
    std::string path = scratch.file("kernels.so");
    {
      std::error_code ec;
      llvm::raw_fd_ostream os(path, ec);
      if (ec) {
        ADD_FAILURE() << "cannot write " << path;
        return false;
      }
      os << code->sharedObject;
    }
    handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle)
      ADD_FAILURE() << "dlopen: " << dlerror();
    return handle != nullptr;
  }

  KernelFn lookup(const std::string &name) {
    void *sym = handle ? dlsym(handle, name.c_str()) : nullptr;
    if (!sym)
      ADD_FAILURE() << "kernel " << name << " is missing";
    return reinterpret_cast<KernelFn>(sym);
  }

  /// Calls `name` as two threads, one after the other, to cover the split.
  void run(const std::string &name, std::vector<void *> args, int64_t tokens) {
    KernelFn f = lookup(name);
    if (!f)
      return;
    f(args.data(), tokens, 0, 2);
    f(args.data(), tokens, 1, 2);
  }

  const CpuTarget target;

private:
  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::unique_ptr<KernelBuilder> builder;
  ScratchDir scratch;
  void *handle = nullptr;
};

/// Whether this CPU runs x86-64-v4 kernels (AVX-512 with VNNI).
inline bool hostHasVnni() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

/// A buffer of `rows` activation rows of `width` f32 values (zero padded).
inline std::vector<float> activationBuffer(int64_t rows, int64_t width) {
  return std::vector<float>(size_t(rows * activationRowBytes(width) / 4), 0.0f);
}

} // namespace lowbit::test

#endif // LOWBIT_TEST_UNIT_CODEGENKERNELSTEST_H
