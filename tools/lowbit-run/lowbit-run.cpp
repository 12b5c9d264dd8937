//===- lowbit-run.cpp - Run a model: perplexity, generation, bench --------===//
//
// lowbit-run perplexity --protocol p1|p2 --ctx 512 [--chunks N] --file TEXT MODEL
// lowbit-run generate --prompt TEXT -n N [--temperature T --top-k K --top-p P --seed S] MODEL
// lowbit-run bench [-p 512] [-n 128] [-d 0] [-r 3] [--json] MODEL
//
// MODEL is a Hugging Face directory, a GGUF file or lowbit IR (.mlir), run by
// the IR interpreter, or a compiled artifact (.lbx), run by the runtime.
//
//===----------------------------------------------------------------------===//
#include "lowbit/Interpreter/Bench.h"
#include "lowbit/Support/InputFiles.h"
#include "lowbit/Interpreter/Generate.h"
#include "lowbit/Interpreter/InterpreterEngine.h"
#include "lowbit/Runtime/GpuSession.h"
#include "lowbit/Interpreter/Perplexity.h"
#include "lowbit/Import/ModelLoader.h"
#include "lowbit/Runtime/Runtime.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "lowbit/Support/ToolSetup.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>

using namespace llvm;
using namespace lowbit;

static cl::OptionCategory category("lowbit-run options");

static cl::SubCommand perplexityCmd("perplexity",
                                    "Perplexity of a model on a text file");
static cl::SubCommand generateCmd("generate", "Generate a continuation");
static cl::SubCommand benchCmd(
    "bench", "Prompt (pp) and generation (tg) tokens/s, as llama-bench");

static cl::opt<std::string> modelPath(cl::Positional, cl::Required,
                                      cl::desc("<model dir | .gguf | .mlir | .lbx>"),
                                      cl::sub(perplexityCmd), cl::sub(generateCmd),
                                      cl::sub(benchCmd), cl::cat(category));
static cl::opt<int> threads(
    "threads",
    cl::desc("Threads of a compiled model (.lbx); default: 2, or fewer "
             "when fewer cores are available"),
    cl::init(0), cl::sub(perplexityCmd), cl::sub(generateCmd), cl::sub(benchCmd),
    cl::cat(category));
static cl::opt<std::string> cpuList(
    "cpus",
    cl::desc("Pin the threads of a compiled model (.lbx) to these CPUs, e.g. 0,2 or "
             "0-3; thread i runs on the i-th listed CPU (default threads: one per CPU)"),
    cl::init(""), cl::sub(perplexityCmd), cl::sub(generateCmd), cl::sub(benchCmd),
    cl::cat(category));
static cl::opt<bool> noMmap(
    "no-mmap",
    cl::desc("Compiled models: copy the weights into memory backed by 2 MiB pages instead of "
             "reading them in place from the file (faster decode, slower load)"),
    cl::sub(perplexityCmd), cl::sub(generateCmd), cl::sub(benchCmd), cl::cat(category));
static cl::opt<std::string> device(
    "device",
    cl::desc("cpu (default), or cuda:N to run a GPU artifact (lowbit-compile "
             "--target=sm_80|sm_90) on GPU N"),
    cl::init("cpu"), cl::sub(perplexityCmd), cl::sub(generateCmd), cl::sub(benchCmd),
    cl::cat(category));
static cl::opt<std::string> protocol("protocol",
                                     cl::desc("p1 (Hugging Face) or p2 (llama.cpp)"),
                                     cl::init("p1"), cl::sub(perplexityCmd),
                                     cl::cat(category));
static cl::opt<int64_t> ctxLength("ctx", cl::desc("Window length in tokens"),
                                  cl::init(512), cl::sub(perplexityCmd),
                                  cl::cat(category));
static cl::opt<int64_t> chunks("chunks", cl::desc("Evaluate only the first N windows"),
                               cl::init(-1), cl::sub(perplexityCmd), cl::cat(category));
static cl::opt<std::string> textFile("file", cl::desc("Evaluation text"),
                                     cl::Required, cl::sub(perplexityCmd),
                                     cl::cat(category));
static cl::opt<std::string> activations(
    "activations",
    cl::desc("fp32 (reference, default) or ggml: round each matmul's input as "
             "llama.cpp's CPU backend does, to compare with its numbers "
             "(interpreter only)"),
    cl::init("fp32"), cl::sub(perplexityCmd), cl::sub(generateCmd),
    cl::sub(benchCmd), cl::cat(category));
static cl::opt<bool> jsonOutput("json", cl::desc("Print the result as JSON"),
                                cl::sub(perplexityCmd), cl::sub(generateCmd),
                                cl::sub(benchCmd), cl::cat(category));

static cl::opt<std::string> prompt("prompt", cl::desc("Prompt text"),
                                   cl::sub(generateCmd), cl::cat(category));
static cl::opt<std::string> promptTokens(
    "prompt-tokens", cl::desc("Comma-separated prompt token ids (instead of --prompt)"),
    cl::sub(generateCmd), cl::cat(category));
static cl::opt<int64_t> numTokens("n", cl::desc("Tokens to generate"),
                                  cl::init(32), cl::sub(generateCmd),
                                  cl::cat(category));
static cl::opt<float> temperature("temperature",
                                  cl::desc("0 = greedy (default)"),
                                  cl::init(0.0f), cl::sub(generateCmd),
                                  cl::cat(category));
static cl::opt<int64_t> topK("top-k", cl::desc("Keep the K most likely tokens (0 = all)"),
                             cl::init(0), cl::sub(generateCmd), cl::cat(category));
static cl::opt<float> topP("top-p", cl::desc("Nucleus mass (1 = off)"),
                           cl::init(1.0f), cl::sub(generateCmd), cl::cat(category));
static cl::opt<bool> ignoreEos("ignore-eos",
                               cl::desc("Keep generating past the end-of-text token"),
                               cl::sub(generateCmd), cl::cat(category));
static cl::opt<uint64_t> seed("seed", cl::desc("Sampling seed"), cl::init(0),
                              cl::sub(generateCmd), cl::cat(category));

static cl::opt<int64_t> benchPrompt("p", cl::desc("pp: prompt tokens in one batch (0: skip)"),
                                    cl::init(512), cl::sub(benchCmd), cl::cat(category));
static cl::opt<int64_t> benchGen("n", cl::desc("tg: tokens generated one at a time (0: skip)"),
                                 cl::init(128), cl::sub(benchCmd), cl::cat(category));
static cl::opt<int64_t> benchDepth(
    "d", cl::desc("Tokens in the cache before each test (as llama-bench -d)"), cl::init(0),
    cl::sub(benchCmd), cl::cat(category));
static cl::opt<int> benchReps("r", cl::desc("Repetitions; the best is reported"),
                              cl::init(3), cl::sub(benchCmd), cl::cat(category));

static int fail(Error e) {
  WithColor::error(errs(), "lowbit-run") << toString(std::move(e)) << "\n";
  return 1;
}

static Error statusError(const rt::Status &status) {
  return createStringError(status.message());
}

/// A model behind the Engine interface, with its tokenizer: either the IR
/// interpreter or a compiled artifact's session.
struct RunnableModel {
  std::unique_ptr<LoadedModel> loaded;
  std::unique_ptr<Interpreter> interpreter;
  std::unique_ptr<rt::Model> artifact;
  std::unique_ptr<Engine> engine;
  std::string engineName;
  int threads = 0; // 0: the interpreter (its BLAS picks its own threads)

  int64_t contextLength = 0;
  int64_t bosId = -1, eosId = -1;
  bool addBos = false;
  std::function<std::vector<int32_t>(StringRef)> encode;
  std::function<std::string(const std::vector<int32_t> &)> decode;
};

/// "0,2,4-7" as a list of CPU numbers.
static Expected<std::vector<int>> parseCpuList(StringRef text) {
  std::vector<int> cpus;
  SmallVector<StringRef> items;
  text.split(items, ',');
  for (StringRef item : items) {
    auto [first, last] = item.trim().split('-');
    unsigned lo = 0, hi = 0;
    bool bad = first.getAsInteger(10, lo);
    if (last.empty())
      hi = lo;
    else
      bad |= last.getAsInteger(10, hi);
    if (bad || hi < lo || hi >= 4096)
      return createStringError("--cpus: '" + item + "' is not a CPU number or a range a-b");
    for (unsigned c = lo; c <= hi; ++c)
      cpus.push_back(int(c));
  }
  return cpus;
}

/// --device: cpu, or cuda:N (its ordinal; -1 for cpu).
static Expected<int> parseDevice() {
  if (device == "cpu")
    return -1;
  StringRef rest = device;
  int ordinal = 0;
  if (!rest.consume_front("cuda:") || rest.getAsInteger(10, ordinal) || ordinal < 0)
    return createStringError("--device: '" + device + "' is not cpu or cuda:N");
  return ordinal;
}

static Expected<RunnableModel> openArtifact(StringRef path, int threadCount, int gpu) {
  RunnableModel r;
  std::vector<int> cpus;
  if (!cpuList.empty()) {
    Expected<std::vector<int>> parsed = parseCpuList(cpuList);
    if (!parsed)
      return parsed.takeError();
    cpus = std::move(*parsed);
  }
  rt::LoadOptions loadOptions;
  loadOptions.copyWeightsToHugePages = noMmap;
  rt::StatusOr<std::unique_ptr<rt::Model>> model = rt::Model::load(path.str(), loadOptions);
  if (!model.ok())
    return statusError(model.status());
  r.artifact = model.take();
  const rt::ModelInfo &info = r.artifact->info();
  const rt::Tokenizer *tok = r.artifact->tokenizer();
  if (!tok)
    return createStringError(path + ": the artifact carries no tokenizer");
  if (gpu >= 0 || !info.cpu) {
    if (gpu < 0)
      return createStringError(path + ": compiled for " + info.target +
                               ", an NVIDIA GPU: run it with --device cuda:0");
    rt::GpuSessionOptions options;
    options.device = gpu;
    rt::StatusOr<std::unique_ptr<rt::GpuSession>> session =
        rt::GpuSession::create(*r.artifact, options);
    if (!session.ok())
      return statusError(session.status());
    errs() << "lowbit-run: " << path << " on cuda:" << gpu << ", "
           << (*session)->description() << "\n";
    r.engine = session.take();
    r.engineName = "runtime (cuda:" + std::to_string(gpu) + ")";
  } else {
    rt::StatusOr<std::unique_ptr<rt::Session>> session =
        rt::Session::create(*r.artifact, 0, threadCount, cpus);
    if (!session.ok())
      return statusError(session.status());
    r.threads = (*session)->threads();
    r.engine = session.take();
    r.engineName = "runtime";
  }
  r.contextLength = info.contextLength;
  r.bosId = info.bosTokenId;
  r.eosId = info.eosTokenId;
  r.addBos = info.addBos;
  r.encode = [tok](StringRef text) {
    return tok->encode(std::string_view(text.data(), text.size()));
  };
  r.decode = [tok](const std::vector<int32_t> &ids) { return tok->decode(ids); };
  return std::move(r);
}

static Expected<RunnableModel> openInterpreted(StringRef path) {
  RunnableModel r;
  Expected<std::unique_ptr<LoadedModel>> model = loadModel(path);
  if (!model)
    return model.takeError();
  r.loaded = std::move(*model);
  Expected<std::unique_ptr<Interpreter>> interp =
      Interpreter::create(r.loaded->module.get(), r.loaded->weights);
  if (!interp)
    return interp.takeError();
  r.interpreter = std::move(*interp);
  // They run, but everything they touch becomes NaN: say which, once each.
  for (const std::string &name : r.interpreter->nonFiniteWeights())
    WithColor::warning(errs(), "lowbit-run")
        << path << ": weight '" << name
        << "' holds NaN or infinite values; its outputs will too\n";
  if (activations != "fp32" && activations != "ggml")
    return createStringError("--activations must be fp32 or ggml, not '" +
                             activations + "'");
  r.interpreter->setGgmlActivations(activations == "ggml");
  const ModelConfig &config = r.loaded->config;
  r.engine = std::make_unique<InterpreterEngine>(
      *r.interpreter, config.vocabSize, config.contextLength);
  r.engineName = "interpreter";
  r.contextLength = config.contextLength;
  const Tokenizer &tok = *r.loaded->tokenizer;
  const Vocabulary &vocab = tok.vocabulary();
  r.bosId = vocab.bosId;
  r.eosId = vocab.eosId;
  r.addBos = vocab.addBos;
  r.encode = [&tok](StringRef text) {
    std::vector<int> ids = tok.encode(text);
    return std::vector<int32_t>(ids.begin(), ids.end());
  };
  r.decode = [&tok](const std::vector<int32_t> &ids) {
    return tok.decode(std::vector<int>(ids.begin(), ids.end()));
  };
  return std::move(r);
}

static int runPerplexity(RunnableModel &model) {
  PerplexityOptions options;
  if (protocol == "p1")
    options.protocol = PerplexityProtocol::HuggingFace;
  else if (protocol == "p2")
    options.protocol = PerplexityProtocol::LlamaCpp;
  else
    return fail(createStringError("--protocol must be p1 or p2, not '" +
                                  protocol + "'"));
  if (ctxLength < 2 || ctxLength > model.contextLength)
    return fail(createStringError(formatv("--ctx {0} is outside 2..{1} (the "
                                          "model's context length)",
                                          int64_t(ctxLength),
                                          model.contextLength)));
  if (options.protocol == PerplexityProtocol::LlamaCpp && ctxLength < 3)
    return fail(createStringError(formatv(
        "--ctx {0}: protocol p2 scores the second half of each window, which "
        "is empty below 3 tokens",
        int64_t(ctxLength))));
  options.contextLength = ctxLength;
  if (chunks.getNumOccurrences() && chunks <= 0)
    return fail(createStringError(formatv(
        "--chunks {0}: must be at least 1 (omit it to score every window)",
        int64_t(chunks))));
  options.maxWindows = chunks;
  auto text = readInputFile(textFile, /*IsText=*/true);
  if (!text)
    return fail(createStringError(textFile + ": cannot open: " +
                                  text.getError().message()));
  Expected<PerplexityResult> r =
      computePerplexity(*model.engine, model.encode, int32_t(model.bosId),
                        (*text)->getBuffer(), options);
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

static int runGenerate(RunnableModel &model) {
  std::vector<int32_t> ids;
  const int64_t vocabSize = model.engine->vocabSize();
  if (!promptTokens.empty()) {
    SmallVector<StringRef> parts;
    StringRef(promptTokens).split(parts, ',', -1, false);
    for (StringRef p : parts) {
      int64_t id;
      if (p.trim().getAsInteger(10, id) || id < 0 || id >= vocabSize)
        return fail(createStringError("--prompt-tokens: invalid token id '" +
                                      p.str() + "'"));
      ids.push_back(int32_t(id));
    }
  } else {
    if (model.addBos && model.bosId >= 0)
      ids.push_back(int32_t(model.bosId));
    for (int32_t id : model.encode(prompt))
      ids.push_back(id);
  }
  SamplingOptions options;
  options.maxTokens = numTokens;
  options.temperature = temperature;
  options.topK = topK;
  options.topP = topP;
  options.seed = seed;
  options.eosId = ignoreEos ? -1 : model.eosId;
  options.contextLength = model.contextLength;
  // Written so that NaN fails every test.
  if (!(temperature >= 0 && std::isfinite(temperature)))
    return fail(createStringError(formatv(
        "--temperature {0}: must be a finite number >= 0", float(temperature))));
  if (!(topP > 0 && topP <= 1))
    return fail(createStringError(
        formatv("--top-p {0}: must be in (0, 1]", float(topP))));
  if (topK < 0)
    return fail(createStringError(
        formatv("--top-k {0}: must be >= 0", int64_t(topK))));
  if (numTokens < 0)
    return fail(createStringError(
        formatv("-n {0}: the number of tokens to generate must be >= 0",
                int64_t(numTokens))));
  if (int64_t(ids.size()) > model.contextLength)
    return fail(createStringError(formatv(
        "the prompt's {0} tokens exceed the model's context of {1}",
        ids.size(), model.contextLength)));
  // Decode prompt and continuation together so SentencePiece's word-initial
  // spaces come out right, and print only the new suffix.
  std::vector<int32_t> printed(ids.begin(), ids.end());
  std::string shown = model.decode(printed);
  auto onToken = [&](int32_t id) {
    if (jsonOutput)
      return;
    printed.push_back(id);
    std::string text = model.decode(printed);
    if (StringRef(text).starts_with(shown))
      outs() << StringRef(text).substr(shown.size());
    outs().flush();
    shown = text;
  };
  if (!jsonOutput)
    outs() << shown;
  auto start = std::chrono::steady_clock::now();
  Expected<std::vector<int32_t>> out =
      generate(*model.engine, ids, options, onToken);
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
    outs() << "], \"text\": " << formatv("{0}", json::Value(model.decode(*out)))
           << formatv(", \"seconds\": {0:F3}}\n", seconds);
  } else {
    outs() << "\n";
    outs().flush();
    errs() << formatv("{0} tokens in {1:F2} s ({2:F1} tokens/s)\n", out->size(),
                      seconds, out->size() / std::max(seconds, 1e-9));
  }
  return 0;
}

static int runBenchmark(RunnableModel &model) {
  for (auto [name, value] : {std::pair<const char *, int64_t>{"-p", benchPrompt},
                             {"-n", benchGen}})
    if (value < 0)
      return fail(createStringError(formatv("{0} {1}: must be >= 0", name, value)));
  if (benchReps < 1)
    return fail(createStringError(
        formatv("-r {0}: repetitions must be at least 1", int(benchReps))));
  if (benchPrompt == 0 && benchGen == 0)
    return fail(createStringError("-p 0 -n 0: nothing to measure"));
  BenchOptions options;
  options.promptTokens = benchPrompt;
  options.genTokens = benchGen;
  options.repetitions = benchReps;
  options.depth = benchDepth;
  options.bosId = model.addBos ? model.bosId : -1;
  Expected<std::vector<BenchResult>> results = runBench(*model.engine, options);
  if (!results)
    return fail(results.takeError());
  std::string name = sys::path::filename(StringRef(modelPath).rtrim("/")).str();
  if (jsonOutput) {
    json::Array tests;
    for (const BenchResult &r : *results) {
      json::Array samples;
      for (double s : r.seconds)
        samples.push_back(s);
      tests.push_back(json::Object{
          {"test", r.test},
          {"tokens", r.tokens},
          {"repetitions", int64_t(r.seconds.size())},
          {"tokens_per_second", r.bestTokensPerSecond()},
          {"mean_tokens_per_second", r.meanTokensPerSecond()},
          {"seconds", std::move(samples)}});
    }
    json::Object doc{{"model", modelPath},
                     {"engine", model.engineName},
                     {"threads", model.threads},
                     {"results", std::move(tests)}};
    outs() << formatv("{0:2}", json::Value(std::move(doc))) << "\n";
    return 0;
  }
  outs() << formatv("| {0,-24} | {1,-11} | {2,7} | {3,8} | {4,12} | {5,12} |\n",
                    "model", "engine", "threads", "test", "t/s (best)",
                    "t/s (mean)");
  outs() << "| " << std::string(24, '-') << " | " << std::string(11, '-')
         << " | " << std::string(6, '-') << ": | " << std::string(7, '-')
         << ": | " << std::string(11, '-') << ": | " << std::string(11, '-')
         << ": |\n";
  std::string threadsText =
      model.threads ? std::to_string(model.threads) : std::string("blas");
  for (const BenchResult &r : *results)
    outs() << formatv("| {0,-24} | {1,-11} | {2,7} | {3,8} | {4,12:F2} | {5,12:F2} |\n",
                      name, model.engineName, threadsText, r.test,
                      r.bestTokensPerSecond(), r.meanTokensPerSecond());
  return 0;
}

int main(int argc, char **argv) {
  setUpTool(argc, argv);
  for (cl::SubCommand *sub : {&cl::SubCommand::getTopLevel(), &perplexityCmd,
                              &generateCmd, &benchCmd})
    cl::HideUnrelatedOptions(category, *sub);
  cl::ParseCommandLineOptions(argc, argv,
                              "lowbit-run: evaluate, run and time models\n");
  if (!perplexityCmd && !generateCmd && !benchCmd) {
    errs() << "lowbit-run: choose a subcommand: perplexity, generate or bench "
              "(see --help)\n";
    return 1;
  }
  if (threads < 0 || threads > 1024)
    return fail(createStringError(
        formatv("--threads {0}: must be between 1 and 1024 (0: the default)",
                int(threads))));
  setToolSubject(modelPath);
  Expected<int> gpu = parseDevice();
  if (!gpu)
    return fail(gpu.takeError());
  bool artifact = StringRef(modelPath).ends_with(".lbx");
  if (*gpu >= 0 && !artifact)
    return fail(createStringError(
        modelPath + ": the interpreter runs on the CPU; compile the model for the GPU "
                    "(lowbit-compile --target=sm_90) and run the .lbx with --device " +
        device));
  int threadCount = threads ? int(threads) : std::min(2, rt::defaultThreadCount());
  Expected<RunnableModel> model = artifact ? openArtifact(modelPath, threadCount, *gpu)
                                           : openInterpreted(modelPath);
  if (!model)
    return fail(model.takeError());
  if (perplexityCmd)
    return runPerplexity(*model);
  if (generateCmd)
    return runGenerate(*model);
  return runBenchmark(*model);
}
