//===- CompileTwoTargets.cpp - One artifact for a CPU and a GPU -----------===//
//
// --target=x86-64-v3,sm_90: the model is compiled for each target into a
// temporary artifact beside the output, and the two become the parts of one
// file (artifact.proto, Part). The weights are packed once per target: the
// CPU and GPU kernels read different layouts.
//
//===----------------------------------------------------------------------===//
#include "ArtifactOutput.h"
#include "lowbit/Codegen/Compile.h"
#include "lowbit/Codegen/GpuKernels.h"
#include "lowbit/Codegen/Kernels.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Runtime/ArtifactWriter.h"
#include "lowbit/Support/InputFiles.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace lowbit;

namespace {
/// A temporary file beside `output` (or in the temporary directory when the
/// output is a device such as /dev/null), removed when this goes.
struct TemporaryPart {
  llvm::SmallString<256> path;
  ~TemporaryPart() {
    if (!path.empty())
      llvm::sys::fs::remove(path);
  }
  llvm::Error create(llvm::StringRef output, llvm::StringRef target) {
    bool device = output == "-" || output.starts_with("/dev/") || output.starts_with("/proc/");
    std::error_code ec =
        device ? llvm::sys::fs::createTemporaryFile("lowbit-" + target, "lbx", path)
               : llvm::sys::fs::createUniqueFile(output + "." + target + "-%%%%%%", path);
    if (ec)
      return llvm::createStringError(output + ": cannot create a temporary file: " +
                                     ec.message());
    return llvm::Error::success();
  }
};
} // namespace

auto ::lowbit::compileTwoTargets(LoadedModel &model, const CompileOptions &options,
                                 llvm::StringRef cpuName, const GpuTarget &gpu)
    -> llvm::Error {
  if (llvm::Error e = checkNotAnInput(options.output))
    return e;
  std::optional<CpuTarget> cpu = resolveCpuTarget(cpuName);
  if (!cpu)
    return llvm::createStringError("unknown or unusable CPU target '" + cpuName.str() + "'");
  TemporaryPart gpuFile, cpuFile;
  if (llvm::Error e = gpuFile.create(options.output, gpu.chip))
    return e;
  if (llvm::Error e = cpuFile.create(options.output, cpu->name))
    return e;

  // The GPU compile reads the model's IR; the CPU compile lowers it in
  // place, so it goes last.
  CompileOptions partOptions = options;
  partOptions.target = gpu.chip;
  partOptions.output = gpuFile.path.str().str();
  if (!options.assemblyPath.empty())
    partOptions.assemblyPath = options.assemblyPath + ".ptx";
  if (llvm::Error e = compileGpuModel(model, partOptions, gpu))
    return e;
  partOptions.target = cpu->name;
  partOptions.output = cpuFile.path.str().str();
  partOptions.assemblyPath = options.assemblyPath;
  if (llvm::Error e = compileModel(model, partOptions))
    return e;

  std::unique_ptr<llvm::MemoryBuffer> files[2];
  const TemporaryPart *order[2] = {&cpuFile, &gpuFile};
  for (int i = 0; i < 2; ++i) {
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> f = llvm::MemoryBuffer::getFile(
        order[i]->path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
    if (!f)
      return llvm::createStringError(order[i]->path + ": " + f.getError().message());
    files[i] = std::move(*f);
  }
  artifact::Manifest m;
  std::string target = cpu->name + "," + gpu.chip;
  describeModel(m, model, target);
  m.clear_tokenizer(); // each part carries its own
  m.clear_kv_width();
  std::vector<uint64_t> offsets =
      rt::alignedPartOffsets({files[0]->getBufferSize(), files[1]->getBufferSize()});
  rt::ArtifactParts parts;
  const std::string names[2] = {cpu->name, gpu.chip};
  for (int i = 0; i < 2; ++i) {
    artifact::Part *part = m.add_parts();
    part->set_target(names[i]);
    part->set_offset(offsets[size_t(i)]);
    part->set_size(files[i]->getBufferSize());
    parts.alignedParts.push_back({files[i]->getBufferStart(), files[i]->getBufferSize()});
  }
  parts.manifest = m.SerializeAsString();
  if (llvm::Error e = writeArtifactFile(options.output, parts))
    return e;
  llvm::errs() << "lowbit-compile: " << options.output << " holds " << target << " ("
               << llvm::format("%.1f", offsets.back() / 1048576.0) << " MiB)\n";
  return llvm::Error::success();
}
