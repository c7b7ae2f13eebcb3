// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target: the desktop app's .attnscope session files (app/session.cpp, Qt Core only). A session that
// parses must write back and parse again.
#include "fuzz_util.h"

#include "session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const QByteArray bytes(reinterpret_cast<const char*>(data), static_cast<qsizetype>(size));
    QString error;
    const auto session = attn::app::sessionFromJson(bytes, &error);
    if (!session)
        return 0;
    if (!attn::app::sessionFromJson(attn::app::sessionToJson(*session), &error))
        __builtin_trap(); // what the app saves it must open again
    return 0;
}
