#!/usr/bin/env node
// Perplexity with the real llama.cpp, following llama.cpp's tools/perplexity/perplexity.cpp
// (`llama-perplexity -f TEXT -c CTX [--chunks N]`, protocol P2 of shared/docs/anchors.md):
//
//   node llama-perplexity.mjs --model FILE --file TEXT [--ctx 512] [--chunks N] [--fast] [--progress]
//
// - The file is read whole; one trailing '\n' is dropped (as llama.cpp's -f does), then it is
//   tokenized by llama.cpp with BOS first (when the GGUF says add_bos).
// - Chunk i is tokens [i*ctx, (i+1)*ctx); only full chunks count. Its first token is replaced
//   by BOS and it is evaluated from an empty KV cache.
// - With first = ctx/2, logits at positions first .. ctx-2 predict tokens first+1 .. ctx-1:
//   ctx - first - 1 scored tokens per chunk (255 for ctx 512), exactly like perplexity.cpp.
// - log p = logit[tok] - max - log(sum_j expf(logit_j - max)), the sum in double as
//   perplexity.cpp does. This needs every logit of every scored position, which node-llama-cpp
//   hands over as a JS Map per position: that marshalling, not llama.cpp, is most of the time.
// --fast: let the addon do the sum (node-llama-cpp's totalLogitWeight, summed in float) and send
//   only two logits per position. About 3x faster and close to llama.cpp's own speed, but the
//   float sum reads slightly low (tiny-5m: 32.18844 instead of 32.18849): use it for timing.
// --progress: running ppl per chunk on stderr, as llama-perplexity prints it.
// Prints {"ppl", "ppl_err", "chunks", "scored", "seconds"}; seconds = evaluation time only
// (after model load and tokenization).
import {readFileSync} from "node:fs";
import {parseArgs} from "node:util";
import {contextOptions, die, intArg, loadModel} from "./common.mjs";

const {values: args} = parseArgs({
    options: {
        model: {type: "string"},
        file: {type: "string"},
        ctx: {type: "string", default: "512"},
        chunks: {type: "string"},
        fast: {type: "boolean", default: false},
        progress: {type: "boolean", default: false}
    }
});
if (!args.model || !args.file) die("--model and --file are required");
const nCtx = intArg(args.ctx, "--ctx", 4);

let text = readFileSync(args.file, "utf8");
if (text.endsWith("\n")) text = text.slice(0, -1);

const {llama, model} = await loadModel(args.model);
const addBos = model.tokens.shouldPrependBosToken;
const bos = model.tokens.bos;
const tokens = model.tokenize(text, false);
if (addBos) tokens.unshift(bos);

if (tokens.length < 2 * nCtx) die(`need at least ${2 * nCtx} tokens, the file has ${tokens.length}`);
const maxChunks = Math.floor(tokens.length / nCtx);
const nChunks = args.chunks == null ? maxChunks : Math.min(intArg(args.chunks, "--chunks"), maxChunks);
const first = Math.floor(nCtx / 2);

// llama-perplexity decodes a chunk in micro-batches of n_ubatch = 512 tokens; node-llama-cpp's
// batchSize sets both n_batch and n_ubatch, so the same split happens for ctx > 512.
const ctx = await model.createContext(contextOptions(nCtx, Math.min(nCtx, 512)));
const seq = ctx.getSequence();

const f32 = Math.fround;
// What to ask llama.cpp for at a scored position whose next token is `tok` (undefined at the
// window's last position, which only needs to be an output row).
function request(tok) {
    if (tok === undefined) return {logits: {filter: {tokens: [0]}}};
    if (!args.fast) return {logits: true};
    // greedy "token" is the argmax, so includeSelected brings the max logit along
    return {token: true, options: {temperature: 0}, totalLogitWeight: true,
        logits: {filter: {tokens: [tok], includeSelected: true}}};
}
function logProb(next, tok) {
    const logits = next.logits;
    const target = logits.get(tok);
    if (target == null) die(`no logit for token ${tok}`);
    if (args.fast) return f32(target - logits.get(next.token)) - Math.log(next.totalLogitWeight);
    let max = -Infinity;
    for (const v of logits.values()) if (v > max) max = v;
    let sumExp = 0;
    for (const v of logits.values()) sumExp += f32(Math.exp(f32(v - max)));
    return f32(target - max) - Math.log(sumExp);
}

let nll = 0, nll2 = 0, count = 0;
const t0 = performance.now();
for (let c = 0; c < nChunks; c++) {
    const start = c * nCtx;
    const window = tokens.slice(start, start + nCtx);
    if (addBos) window[0] = bos;

    // Logits are requested for positions >= first, the same rows llama-perplexity asks for;
    // the last one predicts nothing in the window and is not scored.
    const input = window.map((t, j) => j < first ? t : [t, {generateNext: request(window[j + 1])}]);
    await seq.clearHistory();
    const res = await seq.controlledEvaluate(input);

    for (let j = first; j < nCtx - 1; j++) {
        const next = res[j]?.next;
        if (next?.logits == null) die(`no logits for chunk ${c} position ${j}`);
        const v = -logProb(next, window[j + 1]);
        nll += v;
        nll2 += v * v;
        count++;
    }
    if (args.progress) process.stderr.write(`[${c + 1}]${Math.exp(nll / count).toFixed(4)},`);
}
const seconds = (performance.now() - t0) / 1000;
if (args.progress) process.stderr.write("\n");

const mean = nll / count;
const ppl = Math.exp(mean);
const variance = nll2 / count - mean * mean;
// llama.cpp's "+/-" figure: standard error of the mean NLL, scaled by ppl
const pplErr = variance > 0 ? Math.sqrt(variance / (count - 1)) * ppl : null;

process.stdout.write(JSON.stringify({
    ppl, ppl_err: pplErr, chunks: nChunks, scored: count, seconds: Number(seconds.toFixed(3))
}) + "\n");
await llama.dispose();
