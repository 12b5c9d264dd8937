//===- lowbit-run.cpp - Run a model: perplexity and generation ------------===//
//
// lowbit-run perplexity --protocol p1|p2 --ctx 512 [--chunks N] --file TEXT MODEL
// lowbit-run generate --prompt TEXT -n N [--temperature T --top-k K --top-p P --seed S] MODEL
//
// MODEL is a Hugging Face directory, a GGUF file or lowbit IR (.mlir).
//
//===----------------------------------------------------------------------===//
#include "lowbit/Executor/Generate.h"
#include "lowbit/Executor/Interpreter.h"
#include "lowbit/Executor/Perplexity.h"
#include "lowbit/Import/ModelLoader.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace llvm;
using namespace lowbit;

static cl::SubCommand perplexityCmd("perplexity",
                                    "Perplexity of a model on a text file");
static cl::SubCommand generateCmd("generate", "Generate a continuation");

static cl::opt<std::string> modelPath(cl::Positional, cl::Required,
                                      cl::desc("<model dir | .gguf | .mlir>"),
                                      cl::sub(perplexityCmd), cl::sub(generateCmd));
static cl::opt<std::string> protocol("protocol",
                                     cl::desc("p1 (Hugging Face) or p2 (llama.cpp)"),
                                     cl::init("p1"), cl::sub(perplexityCmd));
static cl::opt<int64_t> ctxLength("ctx", cl::desc("Window length in tokens"),
                                  cl::init(512), cl::sub(perplexityCmd));
static cl::opt<int64_t> chunks("chunks", cl::desc("Evaluate only the first N windows"),
                               cl::init(-1), cl::sub(perplexityCmd));
static cl::opt<std::string> textFile("file", cl::desc("Evaluation text"),
                                     cl::Required, cl::sub(perplexityCmd));
static cl::opt<std::string> activations(
    "activations",
    cl::desc("fp32 (reference, default) or ggml: round each matmul's input as "
             "llama.cpp's CPU backend does, to compare with its numbers"),
    cl::init("fp32"), cl::sub(perplexityCmd), cl::sub(generateCmd));
static cl::opt<bool> jsonOutput("json", cl::desc("Print the result as JSON"),
                                cl::sub(perplexityCmd), cl::sub(generateCmd));

static cl::opt<std::string> prompt("prompt", cl::desc("Prompt text"),
                                   cl::sub(generateCmd));
static cl::opt<std::string> promptTokens(
    "prompt-tokens", cl::desc("Comma-separated prompt token ids (instead of --prompt)"),
    cl::sub(generateCmd));
static cl::opt<int64_t> numTokens("n", cl::desc("Tokens to generate"),
                                  cl::init(32), cl::sub(generateCmd));
static cl::opt<float> temperature("temperature",
                                  cl::desc("0 = greedy (default)"),
                                  cl::init(0.0f), cl::sub(generateCmd));
static cl::opt<int64_t> topK("top-k", cl::desc("Keep the K most likely tokens (0 = all)"),
                             cl::init(0), cl::sub(generateCmd));
static cl::opt<float> topP("top-p", cl::desc("Nucleus mass (1 = off)"),
                           cl::init(1.0f), cl::sub(generateCmd));
static cl::opt<bool> ignoreEos("ignore-eos",
                               cl::desc("Keep generating past the end-of-text token"),
                               cl::sub(generateCmd));
static cl::opt<uint64_t> seed("seed", cl::desc("Sampling seed"), cl::init(0),
                              cl::sub(generateCmd));

static int fail(Error e) {
  WithColor::error(errs(), "lowbit-run") << toString(std::move(e)) << "\n";
  return 1;
}

static int runPerplexity(LoadedModel &model, Interpreter &interp) {
  PerplexityOptions options;
  if (protocol == "p1")
    options.protocol = PerplexityProtocol::HuggingFace;
  else if (protocol == "p2")
    options.protocol = PerplexityProtocol::LlamaCpp;
  else
    return fail(createStringError("--protocol must be p1 or p2, not '" +
                                  protocol + "'"));
  if (ctxLength < 2 || ctxLength > model.config.contextLength)
    return fail(createStringError(formatv("--ctx {0} is outside 2..{1} (the "
                                          "model's context length)",
                                          int64_t(ctxLength),
                                          model.config.contextLength)));
  options.contextLength = ctxLength;
  options.maxWindows = chunks;
  auto text = MemoryBuffer::getFile(textFile, /*IsText=*/true);
  if (!text)
    return fail(createStringError(textFile + ": cannot open: " +
                                  text.getError().message()));
  Expected<PerplexityResult> r = computePerplexity(
      interp, *model.tokenizer, (*text)->getBuffer(), options);
  if (!r)
    return fail(r.takeError());
  if (jsonOutput)
    outs() << formatv("{{\"perplexity\": {0:F6}, \"windows\": {1}, "
                      "\"scored_tokens\": {2}, \"tokens\": {3}, "
                      "\"seconds\": {4:F2}}\n",
                      r->perplexity, r->windows, r->scoredTokens,
                      r->totalTokens, r->seconds);
  else
    outs() << formatv("perplexity {0:F4} (protocol {1}, ctx {2}, {3} windows, "
                      "{4} tokens scored, {5:F1} s)\n",
                      r->perplexity, protocol, int64_t(ctxLength), r->windows,
                      r->scoredTokens, r->seconds);
  return 0;
}

static int runGenerate(LoadedModel &model, Interpreter &interp) {
  std::vector<int32_t> ids;
  const Vocabulary &vocab = model.tokenizer->vocabulary();
  if (!promptTokens.empty()) {
    SmallVector<StringRef> parts;
    StringRef(promptTokens).split(parts, ',', -1, false);
    for (StringRef p : parts) {
      int64_t id;
      if (p.trim().getAsInteger(10, id) || id < 0 ||
          id >= int64_t(vocab.pieces.size()))
        return fail(createStringError("--prompt-tokens: invalid token id '" +
                                      p.str() + "'"));
      ids.push_back(int32_t(id));
    }
  } else {
    if (vocab.addBos)
      ids.push_back(int32_t(vocab.bosId));
    for (int id : model.tokenizer->encode(prompt))
      ids.push_back(id);
  }
  SamplingOptions options;
  options.maxTokens = numTokens;
  options.temperature = temperature;
  options.topK = topK;
  options.topP = topP;
  options.seed = seed;
  options.eosId = ignoreEos ? -1 : vocab.eosId;
  options.contextLength = model.config.contextLength;
  if (temperature < 0 || topP <= 0 || topP > 1 || topK < 0)
    return fail(createStringError("invalid sampling options (temperature >= 0, "
                                  "0 < top-p <= 1, top-k >= 0)"));
  // Decode prompt and continuation together so SentencePiece's word-initial
  // spaces come out right, and print only the new suffix.
  std::vector<int> printed(ids.begin(), ids.end());
  std::string shown = model.tokenizer->decode(printed);
  auto onToken = [&](int32_t id) {
    if (jsonOutput)
      return;
    printed.push_back(id);
    std::string text = model.tokenizer->decode(printed);
    if (StringRef(text).starts_with(shown))
      outs() << StringRef(text).substr(shown.size());
    outs().flush();
    shown = text;
  };
  if (!jsonOutput)
    outs() << shown;
  auto start = std::chrono::steady_clock::now();
  Expected<std::vector<int32_t>> out = generate(interp, ids, options, onToken);
  if (!out)
    return fail(out.takeError());
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (jsonOutput) {
    outs() << "{\"prompt_tokens\": [";
    for (size_t i = 0; i < ids.size(); ++i)
      outs() << (i ? "," : "") << ids[i];
    outs() << "], \"tokens\": [";
    for (size_t i = 0; i < out->size(); ++i)
      outs() << (i ? "," : "") << (*out)[i];
    std::vector<int> asInt(out->begin(), out->end());
    outs() << "], \"text\": " << formatv("{0}", json::Value(model.tokenizer->decode(asInt)))
           << formatv(", \"seconds\": {0:F3}}\n", seconds);
  } else {
    outs() << "\n";
    outs().flush();
    errs() << formatv("{0} tokens in {1:F2} s ({2:F1} tokens/s)\n", out->size(),
                      seconds, out->size() / std::max(seconds, 1e-9));
  }
  return 0;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "lowbit-run: evaluate and run models\n");
  if (!perplexityCmd && !generateCmd) {
    errs() << "lowbit-run: choose a subcommand: perplexity or generate "
              "(see --help)\n";
    return 1;
  }
  Expected<std::unique_ptr<LoadedModel>> model = loadModel(modelPath);
  if (!model)
    return fail(model.takeError());
  Expected<std::unique_ptr<Interpreter>> interp =
      Interpreter::create((*model)->module.get(), (*model)->weights);
  if (!interp)
    return fail(interp.takeError());
  if (activations != "fp32" && activations != "ggml")
    return fail(createStringError("--activations must be fp32 or ggml, not '" +
                                  activations + "'"));
  (*interp)->setGgmlActivations(activations == "ggml");
  return perplexityCmd ? runPerplexity(**model, **interp)
                       : runGenerate(**model, **interp);
}
