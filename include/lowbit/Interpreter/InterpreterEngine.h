//===- InterpreterEngine.h - The interpreter behind Engine ------*- C++ -*-===//
#ifndef LOWBIT_INTERPRETER_INTERPRETERENGINE_H
#define LOWBIT_INTERPRETER_INTERPRETERENGINE_H

#include "lowbit/Interpreter/Interpreter.h"
#include "lowbit/Runtime/Engine.h"

namespace lowbit {

/// Runs an Interpreter (which it does not own) through the Engine interface,
/// so perplexity and generation treat it like a compiled artifact.
class InterpreterEngine : public Engine {
public:
  InterpreterEngine(Interpreter &interpreter, int64_t vocabSize,
                    int64_t contextLength)
      : interpreter(interpreter), vocab(vocabSize), context(contextLength) {}

  rt::Status forward(const int32_t *tokens, const int32_t *positions,
                     int64_t n, bool allLogits) override;
  const float *logits() const override;
  int64_t vocabSize() const override { return vocab; }
  int64_t contextLength() const override { return context; }
  void reset() override {
    interpreter.resetCache();
    filled = 0;
  }
  int64_t position() const override { return filled; }

private:
  Interpreter &interpreter;
  int64_t vocab, context;
  int64_t filled = 0; // one past the highest position run

  Activation last;
  bool allRows = false;
};

} // namespace lowbit

#endif // LOWBIT_INTERPRETER_INTERPRETERENGINE_H
