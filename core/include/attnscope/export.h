// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "attnscope/maps.h"
#include "attnscope/status.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace attn {

/**
 * @file
 * @brief Every exported file's provenance, written by one function for the CLI and the app alike, and the
 * all-or-nothing maps bundle (`.npy` per map + `maps.json`). docs/export.md describes the files.
 *
 * Text that is not valid UTF-8 (a prompt of arbitrary bytes, a vocabulary entry, a model path) is exported
 * losslessly: the field holds the text with U+FFFD for each invalid sequence (for display), and a sibling
 * `<field>_base64` holds the exact bytes (RFC 4648 base64); for the `display` array, `display_base64` is an
 * array of the same length with null where the display string is valid UTF-8. The siblings are present only
 * when needed.
 */

/// What a provenance names as the weights' SHA-256 while it is still being computed.
inline constexpr const char* kPendingWeightsHash
    = "pending: the weights' SHA-256 was still being computed when this was exported";

/// The attnscope version compiled into the format library (the project version).
std::string attnscopeVersion();

/**
 * @brief Where exported data came from: filled from the request and result that produced the data (never
 * from what a user interface shows now). Unknown numbers stay -1 / NaN and are written as null.
 */
struct Provenance {
    std::string modelPath;
    std::string modelName;
    std::string modelFormat; ///< "attnscope", "huggingface", "pytorch" (empty: unknown)
    std::string weightsSha256; ///< hex SHA-256, or kPendingWeightsHash
    std::string attention; ///< "softmax" / "diff" (empty: unknown)
    std::string position; ///< "none", "learned", "rope", "cope", "rope+cope" (empty: unknown)
    std::string device;
    std::string dtype;
    std::string prompt; ///< the exact bytes given to the tokenizer (need not be UTF-8)
    std::vector<int64_t> tokens; ///< token ids the model ran
    std::vector<std::string> tokenDisplay; ///< one display string per token (need not be UTF-8)
    int64_t layer = -1; ///< -1: several or none
    int64_t head = -1;
    std::string kind; ///< a map kind name (A, D, ...) or what the file holds ("metrics", "comparison: ...")
    /// The region the map covers (first query/key, block sizes, shape) when the file holds one map.
    std::optional<AttentionMap> regionOf; ///< only its geometry is read (values may be empty)
    std::string region; ///< "full", "overview 64 max", "window 0:8,0:8" (regionText); empty: not a map
    double lambda = std::numeric_limits<double>::quiet_NaN(); ///< the layer's λ (DIFF), NaN otherwise
    std::vector<double> lambdaPerLayer; ///< every layer's λ as the model used it, when known
    std::string colorScale; ///< "sequential" / "diverging" for pictures; empty for numbers
    double colorLow = std::numeric_limits<double>::quiet_NaN();
    double colorHigh = std::numeric_limits<double>::quiet_NaN();
    uint64_t requestId = 0; ///< the analysis request that produced the data (0: unknown)
    std::string frontEnd; ///< who wrote it, e.g. "attnscope-cli" or "attnscope 0.1.0 (Qt 6.4.2)"
};

/// Names one map as what the file holds: its layer, head, kind and geometry (not its values); λ from lambdaPerLayer.
void describeMap(Provenance& provenance, const AttentionMap& map);

/// "full", "overview R max|mean", "window q0:q1,k0:k1" (what maps.json has always said).
std::string regionText(const MapRegion& region);

/**
 * @brief What a captured map covers, from its geometry: "overview RxC cells of BxB tokens", "window
 * q0:q1,k0:k1", or "full" (a square map from token 0, with tokenCount rows when tokenCount >= 0).
 */
std::string regionText(const AttentionMap& map, int64_t tokenCount = -1);

/**
 * @brief The sidecar JSON (2-space indent, trailing newline). Keys follow maps.json: "attnscope_version",
 * "created" (ISO-8601 UTC), "front_end", "request_id", "model" {"path", "name", "format", "sha256",
 * "attention", "position"}, "device", "dtype", "prompt", "tokens" (ids), "display", "layer", "head", "kind",
 * "region", "first_query", "first_key", "block", "shape", "lambda", "color_scale", "color_range", plus the
 * `_base64` siblings described above. Never fails: text that is not UTF-8 is escaped, not refused.
 */
std::string provenanceJson(const Provenance& provenance);

/// `dataPath + ".json"`: where a file's sidecar goes.
std::string sidecarPath(const std::string& dataPath);

/// Writes provenanceJson atomically to sidecarPath(dataPath); errors name the sidecar file.
Status writeSidecar(const std::string& dataPath, const Provenance& provenance);

/**
 * @brief CSV of one map labelled with the tokens its cells really cover: a window's rows and columns are the
 * window's tokens (first_query + r, first_key + c); an overview's are its blocks, "a..b" naming the first and
 * last token of each block (indices, then the first and last token's display strings when given:
 * "0..3 <bos>..the"). Full maps are labelled as mapCsv labels them. Same quoting, numbers and line ends as
 * mapCsv. `tokenDisplay` may be empty (indices only).
 */
std::string regionCsv(const AttentionMap& map, const std::vector<std::string>& tokenDisplay);

/**
 * @brief Writes a maps bundle into `folder` all-or-nothing: each map as `<name>.npy` (float32, C order) and
 * finally `maps.json`, the manifest naming every file with its geometry and the provenance.
 *
 * Files go into a fresh hidden folder beside the target (`.<name>.tmp-<pid>-<n>`); commit() swaps it into
 * place with one atomic rename (renameat2 RENAME_EXCHANGE / RENAME_NOREPLACE; where the file system lacks
 * them, the old folder is moved aside first), then deletes the old bundle. A reader of `folder` therefore sees
 * either the old complete bundle or the new one, never a mix. Commits into one folder are serialised by an
 * advisory lock on the parent folder, and the overwrite rule is checked again under it, so of two writers
 * without `overwrite` exactly one wins. The writer's destructor (an error, a cancel) removes its staging
 * folder; staging folders of processes that no longer exist (SIGKILL) are removed by the next writer.
 */
class MapsBundleWriter {
public:
    struct Options {
        bool overwrite = false; ///< replace a folder that already holds maps.json
    };

    /**
     * @brief Checks the target and makes the staging folder; the target itself is not touched until commit().
     * Refused: an empty name, a target that is not a folder, one that holds maps.json unless overwrite, and one
     * that holds anything a bundle did not write (replacing the folder would delete it).
     */
    static Result<std::unique_ptr<MapsBundleWriter>> begin(const std::string& folder, const Options& options);
    ~MapsBundleWriter();
    MapsBundleWriter(const MapsBundleWriter&) = delete;
    MapsBundleWriter& operator=(const MapsBundleWriter&) = delete;

    /// "L{layer}_H{head}_{KIND}.npy" (the CLI's names since the first release).
    static std::string fileName(const AttentionMap& map);

    /// Writes one map into the staging folder and records its manifest entry.
    Status add(const AttentionMap& map);

    /**
     * @brief Writes maps.json (provenance + "maps" + "layout" + "seconds" when finite) and swaps the staging
     * folder into place. After an error the target is as it was before begin().
     */
    Status commit(const Provenance& provenance, double seconds = std::numeric_limits<double>::quiet_NaN());

    /// Deletes the staging folder now (also done by the destructor); idempotent and async-signal-unsafe.
    void abandon();

    /// The staging folder (for tests and for a signal handler that must name it).
    const std::string& stagingFolder() const { return m_staging; }
    size_t mapCount() const { return m_entries.size(); }

private:
    MapsBundleWriter() = default;
    struct Entry {
        std::string file;
        AttentionMap geometry; ///< values left empty
    };
    std::string m_target;
    std::string m_staging;
    Options m_options;
    std::vector<Entry> m_entries;
    bool m_committed = false;
};

} // namespace attn
