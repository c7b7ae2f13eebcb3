// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/model.h"
#include "attnscope/status.h"
#include "attnscope/tasks.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attn::cli {

/// Each command registers itself on the app; its callback sets exitCode.
void registerInit(CLI::App& app, int& exitCode);
void registerInfo(CLI::App& app, int& exitCode);
void registerMaps(CLI::App& app, int& exitCode);
void registerGenerate(CLI::App& app, int& exitCode);
void registerTask(CLI::App& app, int& exitCode);
void registerTrain(CLI::App& app, int& exitCode);
void registerEval(CLI::App& app, int& exitCode);
void registerBench(CLI::App& app, int& exitCode);
void registerTokenize(CLI::App& app, int& exitCode);

/// Prints "attnscope-cli: error: <message>" to stderr and returns the exit code 1.
int fail(const std::string& message);

/// "all" -> 0..count-1; "0,2,5" -> those (each checked < count); the error names `what`.
Result<std::vector<int64_t>> parseIndexList(const std::string& text, int64_t count, const std::string& what);

/// Prompt from --prompt or --prompt-file (exactly one must be given).
Result<std::string> readPrompt(const std::string& prompt, const std::string& promptFile);

/// Device and dtype options shared by the commands that run a model.
struct RunOptions {
    std::string device = "auto";
    std::string dtype = "fp32";
    std::string devices; ///< --devices cuda:0,cuda:1: spread the layers over them
    std::string deviceMap; ///< --device-map balanced|sequential|RANGES|FILE.json
    void addTo(CLI::App& command);
    /// --devices and --device-map alone (info adds these to its own defaults).
    void addDeviceMapTo(CLI::App& command);
    Result<LoadOptions> toLoadOptions() const;
    /// What a server is asked to load on: --devices when given, else --device.
    std::string remoteDevice() const { return devices.empty() ? device : devices; }
};

Result<std::unique_ptr<Model>> loadModel(const std::string& dir, const RunOptions& options);

/// The architecture options `init` and `train` share (their defaults are set before addTo).
struct ModelShapeArgs {
    std::string attention = "softmax";
    std::string position = "rope";
    int64_t layers = 2;
    int64_t dModel = 128;
    int64_t heads = 4;
    int64_t kvHeads = 0;
    void addTo(CLI::App& command);
    /// Sets attention, position, layers, width and heads. A head_dim of 0 is derived with the DIFF paper's
    /// head alignment (d = D/(2H) for diff, D/H for softmax), so both kinds have the same parameter count for the
    /// same --d-model; hint completes the error when --d-model does not divide.
    Status applyTo(ModelConfig& config, const std::string& hint = {}) const;
};

/// The task generator options (docs/tasks.md) of `task`, `train` and `eval`; --seed stays per command.
void addTaskOptions(CLI::App& command, TaskOptions& options);

} // namespace attn::cli
