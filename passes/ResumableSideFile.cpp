//===- ResumableSideFile.cpp ----------------------------------------------===//
#include "ResumableSideFile.h"
#include "lowbit/Formats/CompanionTensors.h"
#include "lowbit/Formats/WeightStore.h"
#include "lowbit/Interpreter/Interpreter.h"
#include "lowbit/Support/Error.h"
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Support/OutputFile.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/xxhash.h"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>

using namespace mlir;
using namespace mlir::lowbit;
using ::lowbit::fileError;

static constexpr llvm::StringLiteral kMagic = "lowbit resume point 1\n";

void mlir::lowbit::declareAffineTensors(
    std::vector<::lowbit::SafetensorsTensorInfo> &out, StringRef name,
    int64_t rows, int64_t cols, int64_t groupSize, bool gIdx) {
  using ::lowbit::Companion;
  using ::lowbit::DType;
  int64_t groups = groupSize < 0 ? 1 : cols / groupSize;
  out.push_back({name.str(), DType::U8, {rows, cols}});
  out.push_back({::lowbit::companionName(name, Companion::Scales), DType::F32,
                 {rows, groups}});
  out.push_back({::lowbit::companionName(name, Companion::Zeros), DType::F32,
                 {rows, groups}});
  if (gIdx)
    out.push_back({::lowbit::companionName(name, Companion::GroupIndex),
                   DType::I32, {cols}});
}

/// What a resumed run must share with the interrupted one to write the same
/// bytes.
static std::vector<std::pair<std::string, std::string>>
fingerprintOf(ModuleOp module, const ::lowbit::WeightStore &weights, Pass &pass) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string options;
  {
    llvm::raw_string_ostream os(options);
    pass.printAsTextualPipeline(os);
  }
  // One entry per option, so a refusal names the option; resume= itself
  // may differ.
  StringRef text = options;
  auto [passName, rest] = text.split('{');
  out.push_back({"pass", passName.str()});
  SmallVector<StringRef> tokens;
  rest.rtrim('}').split(tokens, ' ', -1, /*KeepEmpty=*/false);
  for (StringRef token : tokens) {
    auto [key, value] = token.split('=');
    if (key != "resume")
      out.push_back({"option " + key.str(), value.str()});
  }
  for (StringRef file : weights.files()) {
    llvm::sys::fs::file_status st;
    std::string what = "missing";
    if (!llvm::sys::fs::status(file, st))
      what = std::to_string(st.getSize()) + " bytes, modified " +
             std::to_string(llvm::sys::toTimeT(st.getLastModificationTime()));
    out.push_back({"weights " + file.str(), what});
  }
  std::string ir;
  {
    llvm::raw_string_ostream os(ir);
    module->print(os, OpPrintingFlags().elideLargeElementsAttrs(0));
  }
  out.push_back({"ir", llvm::utohexstr(llvm::xxh3_64bits(ir))});
  // BLAS partitions its sums by thread, so results depend on the count.
  const char *threads = std::getenv("OPENBLAS_NUM_THREADS");
  out.push_back({"threads", threads ? std::string(threads)
                                    : std::to_string(std::thread::hardware_concurrency())});
  return out;
}

llvm::Expected<std::unique_ptr<ResumableSideFile>>
ResumableSideFile::open(StringRef path,
                        ArrayRef<::lowbit::SafetensorsTensorInfo> tensors,
                        ModuleOp module, const ::lowbit::WeightStore &weights,
                        Pass &pass, bool resume) {
  std::unique_ptr<ResumableSideFile> side(new ResumableSideFile());
  side->path = path.str();
  side->statePath = path.str() + ".resume";
  side->resume = resume;
  side->fingerprint = fingerprintOf(module, weights, pass);

  bool haveState = resume && llvm::sys::fs::exists(side->statePath);
  if (haveState) {
    auto buffer = llvm::MemoryBuffer::getFile(side->statePath, false, false);
    if (!buffer)
      return fileError(side->statePath, "cannot read the resume point: {0}",
                       buffer.getError().message());
    StringRef text = (*buffer)->getBuffer();
    if (!text.consume_front(kMagic))
      return fileError(side->statePath, "is not a lowbit resume point");
    std::vector<std::pair<std::string, std::string>> saved;
    while (true) {
      auto [line, rest] = text.split('\n');
      if (line.empty() || rest.data() == nullptr)
        break;
      auto [key, value] = line.split('\t');
      saved.push_back({key.str(), value.str()});
      text = rest;
    }
    if (!text.consume_front("\n"))
      return fileError(side->statePath, "the resume point is truncated");
    for (const auto &[key, value] : side->fingerprint) {
      auto it = llvm::find_if(saved, [&](const auto &s) { return s.first == key; });
      std::string before = it == saved.end() ? "(absent)" : it->second;
      if (before != value)
        return fileError(side->statePath,
                         "cannot resume: {0} differs (the interrupted run had "
                         "'{1}', this one has '{2}'); run without resume=true "
                         "to start again",
                         key, before, value);
    }
    if (saved.size() != side->fingerprint.size())
      return fileError(side->statePath,
                       "cannot resume: the interrupted run read other weight "
                       "files; run without resume=true to start again");
    side->resumeState = text.str();
    auto stream = ::lowbit::SafetensorsStreamWriter::reopen(path, tensors);
    if (!stream)
      return stream.takeError();
    side->stream = std::move(*stream);
    return std::move(side);
  }
  if (resume)
    llvm::errs() << "note: no resume point '" << side->statePath
                 << "'; starting from the first layer\n";
  (void)llvm::sys::fs::remove(side->statePath);
  auto stream = ::lowbit::SafetensorsStreamWriter::create(path, tensors);
  if (!stream)
    return stream.takeError();
  side->stream = std::move(*stream);
  return std::move(side);
}

ResumableSideFile::~ResumableSideFile() = default;

llvm::Expected<int64_t>
ResumableSideFile::restore(const ::lowbit::Interpreter &interpreter,
                           std::vector<::lowbit::ExecutionFrame> &frames) {
  if (resumeState.empty())
    return 0;
  StringRef bytes = resumeState;
  auto u64 = [&](uint64_t &v) {
    if (bytes.size() < 8)
      return false;
    std::memcpy(&v, bytes.data(), 8);
    bytes = bytes.drop_front(8);
    return true;
  };
  uint64_t nextLayer = 0, count = 0;
  if (!u64(nextLayer) || !u64(count))
    return fileError(statePath, "the resume point is truncated");
  std::vector<::lowbit::ExecutionFrame> loaded;
  for (uint64_t i = 0; i < count; ++i) {
    llvm::Expected<::lowbit::ExecutionFrame> frame = interpreter.loadFrame(bytes);
    if (!frame)
      return fileError(statePath, "{0}", llvm::toString(frame.takeError()));
    loaded.push_back(std::move(*frame));
  }
  if (!bytes.empty())
    return fileError(statePath, "the resume point has trailing bytes");
  frames = std::move(loaded);
  resumeState.clear();
  saved = true; // the partial file holds finished layers
  continued = true;
  return int64_t(nextLayer);
}

llvm::Error ResumableSideFile::save(int64_t nextLayer,
                                    const ::lowbit::Interpreter &interpreter,
                                    size_t windows, FrameVisitor frameAt) {
  if (!resume)
    return llvm::Error::success();
  // The layers the point names must be on disk before the point is.
  if (llvm::Error e = stream->sync())
    return e;
  std::string state(kMagic);
  for (const auto &[key, value] : fingerprint)
    state += key + "\t" + value + "\n";
  state += "\n";
  auto u64 = [&](uint64_t v) { state.append(reinterpret_cast<const char *>(&v), 8); };
  u64(uint64_t(nextLayer));
  u64(windows);
  // A frame at a time: the windows may not all fit in memory at once.
  if (llvm::Error e = ::lowbit::writeFileAtomically(
          statePath, [&](llvm::raw_pwrite_stream &os) -> llvm::Error {
            os << state;
            for (size_t w = 0; w < windows; ++w) {
              std::string frame;
              if (llvm::Error e = frameAt(w, [&](const ::lowbit::ExecutionFrame &f) {
                    interpreter.saveFrame(f, frame);
                  }))
                return e;
              os << frame;
            }
            return llvm::Error::success();
          }))
    return e;
  saved = true;
  // Fault injection for the resume tests: die as a kill would, right after
  // the Nth resume point.
  if (const char *n = std::getenv("LOWBIT_KILL_AFTER_RESUME_POINT"))
    if (++pointsSaved == std::atoi(n))
      std::raise(SIGKILL);
  return llvm::Error::success();
}

llvm::Error ResumableSideFile::commit() {
  if (llvm::Error e = stream->commit())
    return e;
  (void)llvm::sys::fs::remove(statePath);
  return llvm::Error::success();
}

void ResumableSideFile::abandon() {
  if (resume && saved) {
    llvm::errs() << "note: the finished layers are kept in '"
                 << stream->partialPath() << "' and '" << statePath
                 << "'; run the same command with resume=true to continue\n";
    return;
  }
  stream->discard();
}
