// Shared setup for the llama.cpp harness scripts: load the prebuilt CPU llama.cpp that
// @node-llama-cpp/linux-x64 ships, never building or downloading anything.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

export function die(msg) {
    process.stderr.write(`error: ${msg}\n`);
    process.exit(2);
}

export function intArg(value, name, min = 1) {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
        die(`${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
    return n;
}

export async function loadModel(modelPath) {
    const llama = await getLlama({
        build: "never",       // use only the prebuilt binary; a build would need GitHub
        usePrebuiltBinaries: true,
        skipDownload: true,
        gpu: false,           // CPU backend: deterministic and the same everywhere
        maxThreads: 2,
        progressLogs: false,
        logLevel: LlamaLogLevel.warn,
        // stdout carries only our JSON, so llama.cpp's own log lines go to stderr
        logger: (level, message) => process.stderr.write(`[llama.cpp ${level}] ${message}\n`)
    });
    const model = await llama.loadModel({modelPath, gpuLayers: 0});
    return {llama, model};
}

// Context options that mirror llama.cpp's CLI tools on CPU: no flash attention (its default
// when these anchors were measured), one sequence, 2 threads, f16 KV cache (the default).
export function contextOptions(contextSize, batchSize) {
    return {
        contextSize,
        batchSize,
        sequences: 1,
        threads: 2,
        flashAttention: false,
        ignoreMemorySafetyChecks: true
    };
}
