//===- FrameStore.cpp -----------------------------------------------------===//
#include "FrameStore.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using namespace lowbit;

std::string lowbit::memorySizeText(uint64_t bytes) {
  return bytes >= 1000000000 ? formatv("{0:F2} GB", double(bytes) / 1e9).str()
                             : formatv("{0:F1} MB", double(bytes) / 1e6).str();
}

static uint64_t bytesOf(const ExecutionFrame &frame) {
  uint64_t n = (frame.tokens.size() + frame.positions.size()) * 4;
  for (const auto &entry : frame.values)
    n += entry.second.data.size() * sizeof(float);
  return n;
}

FrameStore::FrameStore(Interpreter &interpreter,
                       std::vector<ExecutionFrame> initial, uint64_t budget,
                       std::string spillPrefix, bool showProgress)
    : interpreter(interpreter), frames(std::move(initial)), budget(budget),
      spillPrefix(std::move(spillPrefix)), showProgress(showProgress),
      bytes(frames.size(), 0), spilled(frames.size(), false) {
  for (size_t w = 0; w < frames.size(); ++w)
    resident += bytes[w] = bytesOf(frames[w]);
}

FrameStore::~FrameStore() {
  if (dir.empty())
    return;
  for (size_t w = 0; w < frames.size(); ++w)
    (void)sys::fs::remove(fileOf(w));
  (void)sys::fs::remove(dir);
}

std::string FrameStore::fileOf(size_t w) const {
  return dir + "/window-" + std::to_string(w);
}

Error FrameStore::with(size_t w, function_ref<Error(ExecutionFrame &)> fn) {
  if (spilled[w]) {
    auto buffer = MemoryBuffer::getFile(fileOf(w), false, false);
    if (!buffer)
      return createStringError("cannot read spilled activations '" + fileOf(w) +
                               "': " + buffer.getError().message());
    StringRef data = (*buffer)->getBuffer();
    Expected<ExecutionFrame> frame = interpreter.loadFrame(data);
    if (!frame)
      return frame.takeError();
    frames[w] = std::move(*frame);
    spilled[w] = false;
  }
  if (Error e = fn(frames[w]))
    return e;
  resident -= bytes[w];
  resident += bytes[w] = bytesOf(frames[w]);
  // Windows are visited in order, so the first ones stay in memory and the
  // last ones cycle through the disk.
  return resident <= budget ? Error::success() : spill(w);
}

Error FrameStore::spill(size_t w) {
  if (dir.empty()) {
    SmallString<256> made;
    if (std::error_code ec =
            sys::fs::createUniqueDirectory(spillPrefix + ".spill", made))
      return createStringError("cannot create a folder for spilled "
                               "activations next to '" + spillPrefix +
                               "': " + ec.message());
    dir = std::string(made);
    if (showProgress)
      errs() << "note: the calibration activations exceed the memory budget ("
             << memorySizeText(budget) << " for activations); windows spill to '"
             << dir << "'\n";
  }
  std::string data;
  interpreter.saveFrame(frames[w], data);
  std::error_code ec;
  raw_fd_ostream os(fileOf(w), ec);
  if (!ec) {
    os << data;
    os.close();
    if (os.has_error())
      ec = os.error();
    os.clear_error();
  }
  if (ec)
    return createStringError("cannot spill activations to '" + fileOf(w) +
                             "': " + ec.message());
  ExecutionFrame empty;
  std::swap(frames[w], empty);
  resident -= bytes[w];
  bytes[w] = 0;
  spilled[w] = true;
  return Error::success();
}
