// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// A restricted reader for files written by torch.save (PyTorch >= 1.6 zip format). No LibTorch, no
// Python, and nothing in the file is ever executed: the pickle is interpreted by a small virtual machine
// that turns every `module.name` global into an inert value whose fields can be read. Only tensors,
// storages, OrderedDict, torch.device and a few builtin data types are understood specially.
// See docs/model-format.md, "PyTorch .pt files".

#include "attnscope/dtype.h"
#include "attnscope/status.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace attn {

/// Element types of torch storages. A superset of attn::DType, which only lists what model files use.
enum class PtScalarType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

std::size_t ptScalarSize(PtScalarType type);
/// "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL".
std::string ptScalarName(PtScalarType type);
/// The model-file dtype with the same encoding, if there is one (F32, F16, BF16, I64).
std::optional<DType> toModelDType(PtScalarType type);

/** @brief One storage record (`data/<key>`) of the archive, as a typed array of `numel` elements. */
struct PtStorage {
    std::string key;
    PtScalarType dtype = PtScalarType::U8;
    std::string location; ///< as saved, e.g. "cpu" or "cuda:0"; data are always read to the host
    int64_t numel = 0;
    const uint8_t* data = nullptr; ///< inside the mapped file (or the archive's own copy of a compressed entry)
    uint64_t nbytes = 0; ///< numel * element size; the record may be larger
};

/** @brief A tensor: a strided view of a storage (torch._utils._rebuild_tensor_v2). */
struct PtTensor {
    const PtStorage* storage = nullptr;
    PtScalarType dtype = PtScalarType::F32;
    int64_t storageOffset = 0; ///< in elements
    std::vector<int64_t> shape;
    std::vector<int64_t> stride; ///< in elements
    bool requiresGrad = false;

    int64_t numel() const;
    bool isContiguous() const;
    /// The first element inside the mapping; the view was checked to lie inside its storage.
    const uint8_t* data() const;
    /// A C-order copy converted to float32 (integers and bools are converted by value).
    std::vector<float> toFloat32() const;
};

/**
 * @brief A value of the unpickled object graph. Owned by its PtCheckpoint; pointers stay valid while it lives.
 *
 * Globals (`GLOBAL m.c`) are kept as names. Calling one (REDUCE / NEWOBJ) makes an Object that records the
 * callable's module and name, its arguments and any BUILD state; nothing is imported or run.
 */
class PickleValue {
public:
    enum class Kind { None, Bool, Int, Float, String, Bytes, List, Tuple, Dict, Global, Object, Storage, Tensor };
    using Entry = std::pair<const PickleValue*, const PickleValue*>;

    Kind kind() const { return m_kind; }
    bool is(Kind kind) const { return m_kind == kind; }
    /// "none", "bool", ..., "dict", or "module.name" for globals and objects.
    std::string typeName() const;

    bool asBool() const { return m_int != 0; }
    int64_t asInt() const { return m_int; }
    double asFloat() const { return m_float; }
    /// String (UTF-8) or bytes.
    const std::string& asString() const { return m_text; }
    /// List or tuple elements.
    const std::vector<const PickleValue*>& items() const { return m_items; }
    /// Dict entries in insertion order.
    const std::vector<Entry>& entries() const { return m_entries; }
    /// Global or object: the callable's module and name.
    const std::string& module() const { return m_module; }
    const std::string& name() const { return m_name; }
    /// Object: the argument tuple (never null for an object), and the BUILD state (null when none).
    /// Dict: the BUILD state of an OrderedDict (its `_metadata`), or null.
    const PickleValue* args() const { return m_args; }
    const PickleValue* state() const { return m_state; }
    const PtTensor& tensor() const { return m_tensor; }
    const PtStorage& storage() const { return *m_storage; }

    /// Dict (or object of a dict subclass): the value under a string key, or null.
    const PickleValue* find(const std::string& key) const;
    /// Object or OrderedDict: an attribute, i.e. a field of its BUILD state (what argparse.Namespace and most
    /// classes pickle; an OrderedDict's `_metadata`), or null.
    const PickleValue* attr(const std::string& name) const;
    /// Object: true when it was made from `module.name`.
    bool isObjectOf(const std::string& module, const std::string& name) const;

private:
    friend class PickleBuilder;
    Kind m_kind = Kind::None;
    uint32_t m_id = 0; ///< creation index, for the graph checks
    int64_t m_int = 0;
    double m_float = 0;
    std::string m_text;
    std::vector<const PickleValue*> m_items;
    std::vector<Entry> m_entries;
    std::string m_module, m_name;
    const PickleValue* m_args = nullptr;
    const PickleValue* m_state = nullptr;
    PtTensor m_tensor;
    const PtStorage* m_storage = nullptr;
};

/// A named tensor of a state_dict.
struct PtNamedTensor {
    std::string name;
    const PtTensor* tensor = nullptr;
};

class PtArchive;
class PickleArena;

/**
 * @brief A validated torch.save file. The file is memory-mapped; stored records are read in place.
 *
 * open() checks the archive (entries, local headers, byte ranges), runs the restricted unpickler over
 * `data.pkl` with caps on stack, memo, string and container sizes and nesting depth, and checks that every
 * tensor view lies inside its storage. Each malformed file gets a message naming the file and the problem.
 */
class PtCheckpoint {
public:
    static Result<std::unique_ptr<PtCheckpoint>> open(const std::string& path);
    /// The same, from bytes in memory (`displayName` appears in messages).
    static Result<std::unique_ptr<PtCheckpoint>> fromBytes(std::vector<uint8_t> bytes, const std::string& displayName);
    ~PtCheckpoint();
    PtCheckpoint(const PtCheckpoint&) = delete;
    PtCheckpoint& operator=(const PtCheckpoint&) = delete;

    const std::string& path() const { return m_path; }
    /// The top directory of the archive's entries, e.g. "archive" or "cope-postnorm".
    const std::string& archivePrefix() const;
    const PickleValue& root() const { return *m_root; }
    /// Every storage the pickle referenced, once per key, in first-use order.
    std::vector<const PtStorage*> storages() const;
    uint64_t fileSize() const;

private:
    PtCheckpoint() = default;
    static Result<std::unique_ptr<PtCheckpoint>> finish(std::unique_ptr<PtCheckpoint> checkpoint);
    std::string m_path;
    std::unique_ptr<PtArchive> m_archive;
    std::unique_ptr<PickleArena> m_arena;
    const PickleValue* m_root = nullptr;
};

/// The tensors of a dict of tensors (a state_dict) in order. `what` names the dict in errors
/// ("model"); a value that is not a tensor or a key that is not a string is an error naming it.
Result<std::vector<PtNamedTensor>> listTensors(const PickleValue& dict, const std::string& what);

/** @brief The `cfg` Namespace of a RAM CoPE checkpoint, with the defaults of its argument parser. */
struct RamConfig {
    std::string model; ///< "simpledec", ...; empty when absent
    int64_t nlayers = 4;
    int64_t hidSz = 128;
    int64_t nheads = 4;
    int64_t headDim = 0; ///< hid_sz / nheads when absent
    int64_t ffSz = 0; ///< 4 * hid_sz when absent
    std::string posEmb = "abs";
    int64_t blockSize = 0; ///< required
    std::optional<int64_t> relPosMax;
    bool relPosExtend = false;
    bool postNorm = false;
    bool embTie = false;
    int64_t copeNpos = 0; ///< block_size + 1 when absent or None
    bool copeSepKey = false;
    bool copeValGates = false;
    bool copeNodiv = false;
    int64_t copeLayers = 1;
    bool copeShared = false;
    double drop = 0;
    std::optional<int64_t> nvocab; ///< from cfg, else from the tokenizer
};

/** @brief What attnscope needs from a facebookresearch/RAM checkpoint (or its `.pt.cfg` companion). */
struct RamCheckpoint {
    std::unique_ptr<PtCheckpoint> file;
    RamConfig cfg;
    bool cfgOnly = false; ///< a `.pt.cfg` file: only the Namespace, no weights or tokenizer
    bool hadModulePrefix = false; ///< the state_dict keys started with "module." (stripped below)
    std::vector<PtNamedTensor> tensors; ///< `model` state_dict, prefix stripped
    std::vector<std::string> ind2word; ///< tokenizer vocabulary
};

/// Reads a RAM checkpoint: a dict with `cfg` (argparse.Namespace), `model`, `tokenizer`, or a bare
/// Namespace (`.pt.cfg`). Type errors name the field (`cfg.nlayers is a string, expected an int`).
Result<RamCheckpoint> readRamCheckpoint(const std::string& path);
/// The same over an already opened file.
Result<RamCheckpoint> readRamCheckpoint(std::unique_ptr<PtCheckpoint> file);

} // namespace attn
