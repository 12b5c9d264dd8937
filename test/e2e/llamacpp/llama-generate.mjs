#!/usr/bin/env node
// Greedy generation with the real llama.cpp, to compare token-for-token with lowbit.
//
//   node llama-generate.mjs --model FILE (--tokens 1,234,56 | --text "prompt") [-n 20]
//
// --tokens: evaluated exactly as given (no BOS added: pass it yourself if wanted).
// --text:   tokenized by llama.cpp's tokenizer, BOS prepended when the GGUF says add_bos.
// Prints {"prompt_tokens":[...], "tokens":[...], "text":"..."} on stdout. Exactly n tokens are
// generated (no stop at EOS), each the argmax of the logits (llama.cpp's greedy sampler, which
// keeps the lowest id on ties); no repetition penalty, no other sampler.
import {parseArgs} from "node:util";
import {contextOptions, die, intArg, loadModel} from "./common.mjs";

const {values: args} = parseArgs({
    options: {
        model: {type: "string"},
        tokens: {type: "string"},
        text: {type: "string"},
        n: {type: "string", short: "n", default: "20"}
    }
});
if (!args.model) die("--model is required");
if ((args.tokens == null) === (args.text == null)) die("give exactly one of --tokens and --text");
const nGen = intArg(args.n, "-n", 0);

const {llama, model} = await loadModel(args.model);
// llama.cpp would reject a bad id too, but only with a vague decode error
const nVocab = model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length;

let prompt;
if (args.tokens != null) {
    prompt = args.tokens.split(",").map((s) => intArg(s.trim(), "--tokens entry", 0));
    if (nVocab != null)
        for (const t of prompt)
            if (t >= nVocab) die(`token id ${t} is outside the vocabulary (${nVocab})`);
} else {
    prompt = model.tokenize(args.text, false);
    if (model.tokens.shouldPrependBosToken) prompt.unshift(model.tokens.bos);
}
if (prompt.length === 0) die("empty prompt");

// Enough room for prompt + generated tokens so no context shift can happen.
const ctx = await model.createContext(contextOptions(prompt.length + nGen + 1, 512));
const seq = ctx.getSequence();
const greedy = {generateNext: {token: true, options: {temperature: 0}}};

const out = [];
if (nGen > 0) {
    // Logits are requested only for the last prompt position, as llama.cpp's CLI does.
    let res = await seq.controlledEvaluate(prompt.map((t, i) => i === prompt.length - 1 ? [t, greedy] : t));
    for (;;) {
        const next = res[res.length - 1]?.next?.token;
        if (next == null) die("llama.cpp returned no token");
        out.push(next);
        if (out.length === nGen) break;
        res = await seq.controlledEvaluate([[next, greedy]]);
    }
}

process.stdout.write(JSON.stringify({
    prompt_tokens: prompt,
    tokens: out,
    // lastTokens makes the detokenizer treat the output as a continuation (SPM leading space)
    text: model.detokenize(out, false, prompt)
}) + "\n");
await llama.dispose();
