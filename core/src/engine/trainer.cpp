// SPDX-License-Identifier: GPL-3.0-or-later
// The trainer: AdamW (written with ATen ops, so no torch/optim headers), warmup + cosine schedule,
// global-norm clipping, periodic evaluation, resumable checkpoints and the train.json log.
#include "attnscope/trainer.h"

#include "attnscope/config_defaults.h"
#include "attnscope/fileio.h"
#include "attnscope/init.h"
#include "attnscope/model_format.h"
#include "attnscope/safetensors.h"
#include "engine/device.h"
#include "engine/trainer_data.h"
#include "engine/transformer.h"
#include "engine/weights.h"

#include <ATen/core/grad_mode.h> // at::NoGradGuard: ATen/ATen.h no longer brings it in LibTorch 2.x

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>

namespace attn {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr uint64_t kHeldOutSeedOffset = 1000003;
constexpr double kPi = 3.14159265358979323846;
constexpr const char* kCheckpointFile = "checkpoint.safetensors";
constexpr const char* kStateFile = "train_state.json";
constexpr const char* kLogFile = "train.json";
constexpr const char* kVocabFile = "vocab.txt";

struct Param {
    std::string name;
    at::Tensor value, m, v;
    bool decay = false;
};

ModelConfig completeConfig(ModelConfig c, const std::vector<std::string>& vocab, bool addBos)
{
    c.vocabSize = static_cast<int64_t>(vocab.size());
    c.tokenizer = TokenizerConfig {
        TokenizerType::Word, kVocabFile, configDefaultBool("attnscope", "tokenizer.lowercase"), addBos};
    if (c.nKvHeads == 0)
        c.nKvHeads = c.nHeads;
    if (c.headDim == 0 && c.nHeads > 0)
        c.headDim = c.dModel / (c.isDiff() ? 2 * c.nHeads : c.nHeads);
    if (c.ffnHidden == 0)
        c.ffnHidden = ((8 * c.dModel / 3 + 7) / 8) * 8; // SwiGLU at 8/3 D, as `init` does
    if (c.cope.npos == 0)
        c.cope.npos = defaultCopeNpos(c.maxSeqLen);
    return c;
}

double learningRate(const TrainOptions& o, int64_t step)
{
    // step is 0-based; linear warmup, then cosine decay to minLrRatio * lr at the last step.
    if (step < o.warmupSteps)
        return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmupSteps);
    const double span = static_cast<double>(std::max<int64_t>(1, o.steps - o.warmupSteps));
    const double progress = std::min(1.0, static_cast<double>(step - o.warmupSteps) / span);
    const double floor = o.minLrRatio * o.lr;
    return floor + (o.lr - floor) * 0.5 * (1.0 + std::cos(kPi * progress));
}

Status writeTensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
    const std::map<std::string, std::string>& metadata)
{
    std::vector<at::Tensor> host;
    std::vector<TensorToWrite> out;
    host.reserve(tensors.size());
    for (const auto& [name, t] : tensors) {
        host.push_back(t.detach().to(at::kCPU, at::kFloat).contiguous());
        const at::Tensor& h = host.back();
        out.push_back({name, DType::F32, h.sizes().vec(), h.data_ptr(), static_cast<size_t>(h.nbytes())});
    }
    return writeSafetensors(path, out, metadata);
}

struct Run {
    TrainOptions o;
    ModelConfig config;
    std::unique_ptr<Tokenizer> tokenizer;
    at::Device device = at::Device(at::kCPU);
    engine::ModelWeights weights;
    std::vector<Param> params;
    int64_t step = 0;
    json log;
    double priorWallSeconds = 0.0;

    Status checkpoint(double wallSeconds, double tokensPerSecond)
    {
        std::vector<std::pair<std::string, at::Tensor>> model, moments;
        for (const Param& p : params) {
            model.emplace_back(p.name, p.value);
            moments.emplace_back("m/" + p.name, p.m);
            moments.emplace_back("v/" + p.name, p.v);
        }
        const fs::path dir(o.outDir);
        const std::map<std::string, std::string> meta
            = {{"creator", "attnscope trainer"}, {"seed", std::to_string(o.seed)}, {"step", std::to_string(step)}};
        if (Status s = writeTensors((dir / kWeightsFileName).string(), model, meta); !s)
            return s;
        if (Status s = writeTensors((dir / kCheckpointFile).string(), moments, meta); !s)
            return s;
        log["step"] = step;
        log["wall_seconds"] = priorWallSeconds + wallSeconds;
        log["tokens_per_second"] = tokensPerSecond;
        log["finished"] = step >= o.steps;
        if (Status s = writeFileAtomic((dir / kLogFile).string(), log.dump(2)); !s)
            return s;
        // The state goes last: it names a step whose weights and moments are already on disk.
        // The task stream is re-created from the seed and fast-forwarded by step * batch samples.
        const json state = {{"step", step}, {"seed", o.seed}, {"batch_size", o.batchSize}, {"task", toString(o.task)},
            {"wall_seconds", priorWallSeconds + wallSeconds}};
        return writeFileAtomic((dir / kStateFile).string(), state.dump(2));
    }
};

json optionsJson(const TrainOptions& o)
{
    const TaskOptions& t = o.taskOptions;
    return {{"task", toString(o.task)}, {"steps", o.steps}, {"batch_size", o.batchSize}, {"lr", o.lr},
        {"min_lr_ratio", o.minLrRatio}, {"warmup_steps", o.warmupSteps}, {"weight_decay", o.weightDecay},
        {"grad_clip", o.gradClip}, {"eval_every", o.evalEvery}, {"eval_samples", o.evalSamples},
        {"checkpoint_every", o.checkpointEvery}, {"log_every", o.logEvery}, {"seed", o.seed}, {"bos", o.addBos},
        {"task_options",
            {{"vars", t.nVars}, {"max_steps", t.maxSteps}, {"length", t.length}, {"p_ignore", t.pIgnore},
                {"data", t.nData}, {"blanks", t.nBlank}, {"data_vocab", t.dataVocab}, {"context_words", t.contextWords},
                {"needles", t.nNeedles}, {"queried", t.nQueried}, {"depth", t.depthPercent}}}};
}

bool isNonEmptyDir(const std::string& dir)
{
    std::error_code ec;
    return fs::exists(dir, ec) && !fs::is_empty(dir, ec);
}

/// Creates a fresh model or reloads a checkpointed one, then makes the trainable parameter list.
Status setUp(Run& run)
{
    TrainOptions& o = run.o;
    const fs::path dir(o.outDir);
    const bool resuming = o.resume && fs::exists(dir / kStateFile);
    if (!resuming && isNonEmptyDir(o.outDir))
        return Status::error(o.outDir + " is not empty; choose an empty directory, or resume the run in it"
            + (fs::exists(dir / kStateFile) ? " (--resume)" : " (it holds no train_state.json to resume from)"));
    const std::vector<std::string> vocab = taskVocabulary(o.task, o.taskOptions);
    if (!resuming) {
        run.config = completeConfig(o.model, vocab, o.addBos);
        if (Status s = initRandomModel(o.outDir, run.config, o.seed, false, vocab); !s)
            return s;
    } else {
        auto config = loadConfig((dir / kConfigFileName).string());
        if (!config)
            return config.status();
        run.config = *config;
        auto text = readFile((dir / kStateFile).string());
        if (!text)
            return text.status();
        const json state = json::parse(*text);
        run.step = state.at("step").get<int64_t>();
        o.seed = state.at("seed").get<uint64_t>();
        if (state.at("batch_size").get<int64_t>() != o.batchSize
            || state.at("task").get<std::string>() != toString(o.task))
            return Status::error("cannot resume: the run in " + o.outDir + " used another task or batch size");
        run.priorWallSeconds = state.value("wall_seconds", 0.0);
        if (auto logText = readFile((dir / kLogFile).string()))
            run.log = json::parse(*logText);
    }
    auto tokenizer = makeTokenizer(run.config.tokenizer, o.outDir);
    if (!tokenizer)
        return tokenizer.status();
    run.tokenizer = std::move(tokenizer.value());
    auto file = SafetensorsFile::open((dir / kWeightsFileName).string());
    if (!file)
        return file.status();
    if (Status s = checkTensorsMatchConfig(run.config, (*file)->tensors()); !s)
        return s;
    run.weights = engine::loadWeights(**file, run.config, run.device, at::kFloat);
    std::unique_ptr<SafetensorsFile> moments;
    if (resuming) {
        auto m = SafetensorsFile::open((dir / kCheckpointFile).string());
        if (!m)
            return m.status();
        moments = std::move(m.value());
    }
    // The parameters are the tensors expectedTensors lists, in its order (a tied output is the embedding tensor
    // itself, so it is listed once).
    for (const TensorSpec& spec : expectedTensors(run.config)) {
        int64_t layer = -1;
        const TensorEntry& entry = *findTensor(spec.name, &layer);
        Param p;
        p.name = spec.name;
        p.value = *engine::engineTensor(run.weights, entry.id, layer);
        p.value.set_requires_grad(true);
        // Decoupled weight decay on matrices only: norms, DIFF lambdas and positional tables
        // (CoPE pos_emb, learned positions) are not shrunk towards zero, as in GPT/DIFF practice.
        p.decay = p.value.dim() == 2 && entry.id != TensorId::CopePosEmb && entry.id != TensorId::PosEmbeddings;
        if (moments) {
            const TensorInfo* mi = moments->find("m/" + spec.name);
            const TensorInfo* vi = moments->find("v/" + spec.name);
            if (!mi || !vi)
                return Status::error("cannot resume: " + std::string(kCheckpointFile) + " lacks " + spec.name);
            p.m = engine::readTensor(*moments, *mi).to(run.device);
            p.v = engine::readTensor(*moments, *vi).to(run.device);
        } else {
            p.m = at::zeros_like(p.value).detach();
            p.v = at::zeros_like(p.value).detach();
        }
        run.params.push_back(std::move(p));
    }
    if (!resuming) {
        run.log = {{"config", json::parse(configToJson(run.config))}, {"options", optionsJson(o)}, {"seed", o.seed},
            {"device", engine::deviceName(run.device)}, {"parameters", parameterCount(run.config)},
            {"losses", json::array()}, {"evals", json::array()}};
    }
    return Status::ok();
}

/// One AdamW update (betas 0.9/0.95, eps 1e-8) with bias correction; t is the 1-based step.
void adamw(std::vector<Param>& params, double lr, double weightDecay, int64_t t)
{
    const double b1 = 0.9, b2 = 0.95, eps = 1e-8;
    const double c1 = 1.0 - std::pow(b1, static_cast<double>(t));
    const double c2 = 1.0 - std::pow(b2, static_cast<double>(t));
    at::NoGradGuard noGrad;
    for (Param& p : params) {
        const at::Tensor g = p.value.grad();
        if (!g.defined())
            continue;
        if (p.decay && weightDecay > 0)
            p.value.mul_(1.0 - lr * weightDecay);
        p.m.mul_(b1).add_(g, 1.0 - b1);
        p.v.mul_(b2).addcmul_(g, g, 1.0 - b2);
        const at::Tensor denom = (p.v / c2).sqrt_().add_(eps);
        p.value.addcdiv_(p.m, denom, -lr / c1);
        g.zero_();
    }
}

double clipGradients(std::vector<Param>& params, double maxNorm)
{
    at::NoGradGuard noGrad;
    at::Tensor total = at::zeros({}, params.front().value.options());
    for (const Param& p : params)
        if (p.value.grad().defined())
            total = total + p.value.grad().pow(2).sum();
    const double norm = std::sqrt(total.item<double>());
    if (maxNorm > 0 && norm > maxNorm)
        for (Param& p : params)
            if (p.value.grad().defined())
                p.value.grad().mul_(maxNorm / (norm + 1e-6));
    return norm;
}

Status runTraining(
    Run& run, const std::function<void(const TrainProgress&)>& onProgress, const std::atomic<bool>* cancel)
{
    const TrainOptions& o = run.o;
    TaskOptions taskOptions = o.taskOptions;
    taskOptions.seed = o.seed;
    auto generator = TaskGenerator::create(o.task, taskOptions);
    if (!generator)
        return generator.status();
    for (int64_t i = 0; i < run.step * o.batchSize; ++i) // resume: replay the stream to where it stopped
        generator->next();
    const int64_t padId = 0; // taskVocabulary() puts <pad> first
    const auto start = std::chrono::steady_clock::now();
    int64_t sessionTokens = 0, sessionSteps = 0;
    double tokensPerSecond = 0.0;
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
    auto runEval = [&] {
        TaskOptions heldOut = taskOptions;
        heldOut.seed = o.seed + kHeldOutSeedOffset;
        auto evalGen = TaskGenerator::create(o.task, heldOut);
        const EvalResult r
            = engine::evaluateWeights(run.weights, run.config, *run.tokenizer, *evalGen, o.evalSamples, run.device);
        run.log["evals"].push_back({{"step", run.step}, {"samples", r.samples}, {"accuracy", r.accuracy},
            {"token_accuracy", r.tokenAccuracy}});
    };

    while (run.step < o.steps) {
        if (cancel && cancel->load()) {
            if (Status s = run.checkpoint(elapsed(), tokensPerSecond); !s)
                return s;
            return Status::error("cancelled at step " + std::to_string(run.step));
        }
        std::vector<engine::EncodedSample> encoded;
        for (int64_t i = 0; i < o.batchSize; ++i)
            encoded.push_back(engine::encodeSample(*run.tokenizer, generator->next(), run.config.maxSeqLen, true));
        const engine::Batch batch = engine::makeBatch(encoded, padId, run.device);
        const at::Tensor logits
            = engine::forward(run.weights, run.config, batch.input, nullptr, RunControl {}, /*allPositions=*/true);
        const at::Tensor loss = engine::maskedLoss(logits, batch);
        loss.backward();
        clipGradients(run.params, o.gradClip);
        const double lr = learningRate(o, run.step);
        ++run.step;
        adamw(run.params, lr, o.weightDecay, run.step);

        const double lossValue = loss.item<double>();
        ++sessionSteps;
        sessionTokens += batch.realTokens;
        const double seconds = elapsed();
        tokensPerSecond = seconds > 0 ? static_cast<double>(sessionTokens) / seconds : 0.0;
        if (o.logEvery > 0 && (run.step % o.logEvery == 0 || run.step == 1))
            run.log["losses"].push_back({run.step, lossValue});
        if ((o.evalEvery > 0 && run.step % o.evalEvery == 0) || run.step == o.steps)
            runEval();
        if ((o.checkpointEvery > 0 && run.step % o.checkpointEvery == 0) || run.step == o.steps)
            if (Status s = run.checkpoint(seconds, tokensPerSecond); !s)
                return s;
        if (onProgress) {
            const double perStep = seconds / static_cast<double>(sessionSteps);
            onProgress(TrainProgress {
                run.step, o.steps, lossValue, lr, tokensPerSecond, perStep * static_cast<double>(o.steps - run.step)});
        }
    }
    return Status::ok();
}

} // namespace

Status train(const TrainOptions& options, const std::function<void(const TrainProgress&)>& onProgress,
    const std::atomic<bool>* cancel)
{
    if (options.outDir.empty())
        return Status::error("the output directory is empty");
    if (options.steps <= 0 || options.batchSize <= 0 || options.lr <= 0 || options.warmupSteps < 0)
        return Status::error("steps, batch size and lr must be positive, warmup not negative");
    if (Status s = validateTaskOptions(options.task, options.taskOptions); !s)
        return s;
    const std::string what = "training in " + options.outDir + " failed: ";
    try {
        Run run;
        run.o = options;
        auto device = engine::resolveDevice(options.device);
        if (!device)
            return device.status();
        run.device = *device;
        if (run.device.is_cuda()) {
            at::globalContext().setAllowTF32CuBLAS(false);
            at::globalContext().setAllowTF32CuDNN(false);
        }
        at::manual_seed(options.seed); // nothing draws from it today; pins any future dropout
        if (Status s = setUp(run); !s)
            return s;
        return runTraining(run, onProgress, cancel);
    } catch (const c10::Error& e) {
        return Status::error(what + e.what_without_backtrace());
    } catch (const std::exception& e) {
        return Status::error(what + e.what());
    }
}

Result<EvalResult> evaluate(const std::string& modelDir, TaskKind task, const TaskOptions& taskOptions, int64_t samples,
    const DeviceSpec& device)
{
    const std::string what = "cannot evaluate " + modelDir + ": ";
    if (samples <= 0)
        return Status::error(what + "the number of samples must be positive");
    try {
        auto model = Model::load(modelDir, LoadOptions {device, ComputeDType::F32}); // all the file checks
        if (!model)
            return model.status();
        auto resolved = engine::resolveDevice(device);
        if (!resolved)
            return resolved.status();
        // Model keeps its weights private; reload them here to run whole batches teacher-forced.
        auto file = SafetensorsFile::open((fs::path(modelDir) / kWeightsFileName).string());
        if (!file)
            return file.status();
        const ModelConfig& config = (*model)->config();
        const engine::ModelWeights weights = engine::loadWeights(**file, config, *resolved, at::kFloat);
        auto generator = TaskGenerator::create(task, taskOptions);
        if (!generator)
            return generator.status();
        return engine::evaluateWeights(weights, config, (*model)->tokenizer(), *generator, samples, *resolved);
    } catch (const c10::Error& e) {
        return Status::error(what + e.what_without_backtrace());
    } catch (const std::exception& e) {
        return Status::error(what + e.what());
    }
}

} // namespace attn
