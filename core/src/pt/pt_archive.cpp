// SPDX-License-Identifier: GPL-3.0-or-later
#include "pt/pt_archive.h"

#include "fd_guard.h"

#include <zip.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

namespace attn {

namespace {

// A compressed record is inflated into memory; these caps keep a zip bomb from exhausting it.
constexpr uint64_t kMaxInflatedEntry = 1ull << 30;
constexpr uint64_t kMaxInflatedTotal = 4ull << 30;
constexpr uint64_t kMaxEntries = 10'000'000;

uint16_t le16(const uint8_t* p)
{
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
uint32_t le32(const uint8_t* p)
{
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16)
        | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t le64(const uint8_t* p)
{
    return static_cast<uint64_t>(le32(p)) | (static_cast<uint64_t>(le32(p + 4)) << 32);
}

// True when [offset, offset + length) lies inside a buffer of `size` bytes, without overflow.
bool inside(uint64_t offset, uint64_t length, uint64_t size)
{
    return offset <= size && length <= size - offset;
}

// Legacy torch.save output (PyTorch < 1.6, or _use_new_zipfile_serialization=False) is a raw pickle
// stream starting with PROTO, or a tar archive ("ustar" at byte 257) from even older versions.
bool looksLegacy(const uint8_t* base, uint64_t size)
{
    if (size >= 2 && base[0] == 0x80 && base[1] >= 2 && base[1] <= 5)
        return true;
    return size >= 262 && std::memcmp(base + 257, "ustar", 5) == 0;
}

std::string zipErrorText(zip_error_t* error)
{
    return zip_error_strerror(error);
}

// Where each central-directory entry's local header starts. libzip validates the directory but keeps
// these offsets private, and reading stored records in place needs them.
struct CentralEntry {
    std::string name;
    uint16_t method = 0;
    uint64_t compressedSize = 0;
    uint64_t localHeader = 0;
};

// Finds the end-of-central-directory record and walks the directory. Only called after libzip accepted
// the archive, so failures here mean libzip and this walk disagree; they are still reported, never assumed.
Result<std::vector<CentralEntry>> readCentralDirectory(const uint8_t* base, uint64_t size)
{
    constexpr uint64_t kEocdSize = 22;
    if (size < kEocdSize)
        return Status::error("too short for a zip archive");
    uint64_t eocd = std::numeric_limits<uint64_t>::max();
    const uint64_t lowest = size - kEocdSize > 0xFFFF ? size - kEocdSize - 0xFFFF : 0;
    for (uint64_t pos = size - kEocdSize + 1; pos-- > lowest;) {
        if (le32(base + pos) == 0x06054b50u) {
            eocd = pos;
            break;
        }
    }
    if (eocd == std::numeric_limits<uint64_t>::max())
        return Status::error("no end-of-central-directory record");

    uint64_t count = le16(base + eocd + 10);
    uint64_t cdSize = le32(base + eocd + 12);
    uint64_t cdOffset = le32(base + eocd + 16);
    if (count == 0xFFFF || cdSize == 0xFFFFFFFFu || cdOffset == 0xFFFFFFFFu) {
        // Zip64: the locator sits just before the EOCD record and points at the zip64 EOCD record.
        if (eocd < 20 || le32(base + eocd - 20) != 0x07064b50u)
            return Status::error("zip64 end-of-central-directory locator missing");
        const uint64_t record = le64(base + eocd - 20 + 8);
        if (!inside(record, 56, size) || le32(base + record) != 0x06064b50u)
            return Status::error("zip64 end-of-central-directory record missing");
        count = le64(base + record + 32);
        cdSize = le64(base + record + 40);
        cdOffset = le64(base + record + 48);
    }
    if (!inside(cdOffset, cdSize, size))
        return Status::error("central directory lies outside the file");
    if (count > kMaxEntries || count > cdSize / 46)
        return Status::error("central directory declares " + std::to_string(count) + " entries");

    std::vector<CentralEntry> entries;
    entries.reserve(count);
    uint64_t pos = cdOffset;
    const uint64_t end = cdOffset + cdSize;
    for (uint64_t i = 0; i < count; ++i) {
        if (!inside(pos, 46, end) || le32(base + pos) != 0x02014b50u)
            return Status::error("central directory entry " + std::to_string(i) + " is malformed");
        CentralEntry entry;
        entry.method = le16(base + pos + 10);
        entry.compressedSize = le32(base + pos + 20);
        uint64_t uncompressed = le32(base + pos + 24);
        const uint64_t nameLen = le16(base + pos + 28);
        const uint64_t extraLen = le16(base + pos + 30);
        const uint64_t commentLen = le16(base + pos + 32);
        entry.localHeader = le32(base + pos + 42);
        if (!inside(pos + 46, nameLen + extraLen + commentLen, end))
            return Status::error("central directory entry " + std::to_string(i) + " runs past the directory");
        entry.name.assign(reinterpret_cast<const char*>(base + pos + 46), nameLen);
        // The zip64 extra field (id 1) holds, in order, only the sizes/offset whose 32-bit fields are saturated.
        uint64_t extra = pos + 46 + nameLen;
        const uint64_t extraEnd = extra + extraLen;
        while (extra + 4 <= extraEnd) {
            const uint16_t id = le16(base + extra);
            const uint64_t len = le16(base + extra + 2);
            if (extra + 4 + len > extraEnd)
                break;
            if (id == 1) {
                uint64_t field = extra + 4;
                const uint64_t fieldEnd = field + len;
                auto take = [&](uint64_t& value) {
                    if (value == 0xFFFFFFFFu && field + 8 <= fieldEnd) {
                        value = le64(base + field);
                        field += 8;
                    }
                };
                take(uncompressed);
                take(entry.compressedSize);
                take(entry.localHeader);
            }
            extra += 4 + len;
        }
        entries.push_back(std::move(entry));
        pos += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
}

} // namespace

Result<std::unique_ptr<PtArchive>> PtArchive::openFile(const std::string& path)
{
    std::unique_ptr<PtArchive> archive(new PtArchive());
    archive->m_name = path;
    struct stat info { };
    std::string error;
    detail::FdGuard fd(detail::openRegularFile(path, info, error));
    if (fd.get() < 0)
        return Status::error(path + ": " + error);
    archive->m_size = static_cast<uint64_t>(info.st_size);
    if (archive->m_size == 0)
        return Status::error(path + ": empty file, not a torch.save checkpoint");
    void* mapped = ::mmap(nullptr, archive->m_size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (mapped == MAP_FAILED)
        return Status::error(path + ": cannot map: " + std::strerror(errno));
    archive->m_base = static_cast<const uint8_t*>(mapped);
    archive->m_mapped = true;
    return init(std::move(archive));
}

Result<std::unique_ptr<PtArchive>> PtArchive::fromBytes(std::vector<uint8_t> bytes, const std::string& displayName)
{
    std::unique_ptr<PtArchive> archive(new PtArchive());
    archive->m_name = displayName;
    archive->m_owned = std::move(bytes);
    archive->m_base = archive->m_owned.data();
    archive->m_size = archive->m_owned.size();
    if (archive->m_size == 0)
        return Status::error(displayName + ": empty file, not a torch.save checkpoint");
    return init(std::move(archive));
}

PtArchive::~PtArchive()
{
    if (m_zip)
        zip_discard(static_cast<zip_t*>(m_zip));
    if (m_mapped)
        ::munmap(const_cast<uint8_t*>(m_base), m_size);
}

Status PtArchive::error(const std::string& what) const
{
    return Status::error(m_name + ": " + what);
}

Result<std::unique_ptr<PtArchive>> PtArchive::init(std::unique_ptr<PtArchive> archive)
{
    const uint8_t* base = archive->m_base;
    const uint64_t size = archive->m_size;
    if (size < 4 || le32(base) != 0x04034b50u) {
        if (looksLegacy(base, size)) {
            return archive->error("is a legacy (PyTorch < 1.6) checkpoint; re-save it with torch.save(...) from "
                                  "PyTorch >= 1.6");
        }
        return archive->error("not a torch.save checkpoint (not a zip archive)");
    }

    zip_error_t zipError;
    zip_error_init(&zipError);
    zip_source_t* source = zip_source_buffer_create(base, size, 0, &zipError);
    if (!source) {
        Status status = archive->error("cannot read the zip archive: " + zipErrorText(&zipError));
        zip_error_fini(&zipError);
        return status;
    }
    // ZIP_CHECKCONS makes libzip compare each local header with the central directory.
    zip_t* zip = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &zipError);
    if (!zip) {
        zip_source_free(source);
        Status status = archive->error("not a valid zip archive (truncated or corrupt?): " + zipErrorText(&zipError));
        zip_error_fini(&zipError);
        return status;
    }
    zip_error_fini(&zipError);
    archive->m_zip = zip;
    Status indexed = archive->indexEntries();
    if (!indexed)
        return indexed;
    return archive;
}

Status PtArchive::indexEntries()
{
    zip_t* zip = static_cast<zip_t*>(m_zip);
    Result<std::vector<CentralEntry>> central = readCentralDirectory(m_base, m_size);
    if (!central)
        return error("zip: " + central.message());
    const zip_int64_t count = zip_get_num_entries(zip, 0);
    if (count < 0 || static_cast<uint64_t>(count) != central->size())
        return error("zip: libzip lists " + std::to_string(count) + " entries, the central directory "
            + std::to_string(central->size()));

    // The prefix is the directory of `*/data.pkl` (torch uses the file's name at save time, or "archive").
    std::string prefix;
    bool found = false;
    for (const CentralEntry& entry : *central) {
        const std::string suffix = "/data.pkl";
        if (entry.name.size() > suffix.size()
            && entry.name.compare(entry.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
            const std::string candidate = entry.name.substr(0, entry.name.size() - suffix.size());
            if (candidate.find('/') != std::string::npos)
                continue;
            if (found && candidate != prefix)
                return error(
                    "zip: several top directories hold a data.pkl (\"" + prefix + "\", \"" + candidate + "\")");
            prefix = candidate;
            found = true;
        }
    }
    if (!found)
        return error("no <name>/data.pkl entry in the zip archive; not a torch.save checkpoint");
    m_prefix = prefix;

    for (uint64_t i = 0; i < central->size(); ++i) {
        const CentralEntry& entry = (*central)[i];
        const char* libzipName = zip_get_name(zip, i, ZIP_FL_ENC_RAW);
        if (!libzipName || entry.name != libzipName)
            return error(
                "zip: entry " + std::to_string(i) + " is named differently by libzip and the central directory");
        if (entry.name.compare(0, prefix.size() + 1, prefix + "/") != 0)
            continue; // outside the checkpoint's directory; torch ignores such entries too
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(zip, i, 0, &st) != 0)
            return error("zip: cannot stat entry \"" + entry.name + "\"");
        if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
            return error("zip: entry \"" + entry.name + "\" is encrypted");
        Entry info;
        info.index = i;
        info.size = st.size;
        info.stored = st.comp_method == ZIP_CM_STORE;
        if (info.stored) {
            // Validate the local header ourselves: the data follow its variable-length name and extra field,
            // whose lengths may differ from the central directory's (torch pads the local extra to align data).
            const uint64_t header = entry.localHeader;
            if (!inside(header, 30, m_size) || le32(m_base + header) != 0x04034b50u)
                return error("zip: entry \"" + entry.name + "\" has no local header at byte " + std::to_string(header));
            if (le16(m_base + header + 8) != 0)
                return error("zip: entry \"" + entry.name + "\" local header says compressed, directory says stored");
            const uint64_t nameLen = le16(m_base + header + 26);
            const uint64_t extraLen = le16(m_base + header + 28);
            if (nameLen != entry.name.size() || !inside(header + 30, nameLen, m_size)
                || std::memcmp(m_base + header + 30, entry.name.data(), nameLen) != 0)
                return error("zip: entry \"" + entry.name + "\" local header names a different file");
            info.dataOffset = header + 30 + nameLen + extraLen;
            if (entry.compressedSize != info.size || !inside(info.dataOffset, info.size, m_size)) {
                return error("zip: entry \"" + entry.name + "\" (" + std::to_string(info.size) + " bytes at byte "
                    + std::to_string(info.dataOffset) + ") lies outside the file (" + std::to_string(m_size)
                    + " bytes)");
            }
        }
        m_entries[entry.name.substr(prefix.size() + 1)] = info;
    }
    return Status::ok();
}

bool PtArchive::has(const std::string& relativeName) const
{
    return m_entries.count(relativeName) != 0;
}

Result<PtRecord> PtArchive::record(const std::string& relativeName) const
{
    auto it = m_entries.find(relativeName);
    if (it == m_entries.end())
        return error("no entry \"" + m_prefix + "/" + relativeName + "\" in the archive");
    const Entry& entry = it->second;
    if (entry.stored)
        return PtRecord {m_base + entry.dataOffset, entry.size};

    auto cached = m_inflated.find(relativeName);
    if (cached != m_inflated.end())
        return PtRecord {cached->second.data(), cached->second.size()};
    const std::string full = m_prefix + "/" + relativeName;
    if (entry.size > kMaxInflatedEntry || entry.size > kMaxInflatedTotal - m_inflatedBytes) {
        return error("zip: compressed entry \"" + full + "\" inflates to " + std::to_string(entry.size)
            + " bytes, more than this reader inflates (store records uncompressed, as torch.save does)");
    }
    zip_file_t* file = zip_fopen_index(static_cast<zip_t*>(m_zip), entry.index, 0);
    if (!file)
        return error("zip: cannot open compressed entry \"" + full + "\": " + zip_strerror(static_cast<zip_t*>(m_zip)));
    std::vector<uint8_t> bytes(entry.size);
    uint64_t got = 0;
    while (got < bytes.size()) {
        const zip_int64_t n = zip_fread(file, bytes.data() + got, bytes.size() - got);
        if (n <= 0)
            break;
        got += static_cast<uint64_t>(n);
    }
    const bool closedCleanly = zip_fclose(file) == 0; // also reports a CRC mismatch
    if (got != bytes.size() || !closedCleanly)
        return error("zip: compressed entry \"" + full + "\" is corrupt (inflated " + std::to_string(got) + " of "
            + std::to_string(entry.size) + " bytes)");
    m_inflatedBytes += bytes.size();
    auto& stored = m_inflated[relativeName] = std::move(bytes);
    return PtRecord {stored.data(), stored.size()};
}

} // namespace attn
