// SPDX-License-Identifier: GPL-3.0-or-later
#include "attnscope/status.h"

namespace attn {

const char* toString(StatusCode code)
{
    switch (code) {
    case StatusCode::Ok:
        return "ok";
    case StatusCode::Invalid:
        return "invalid";
    case StatusCode::Refused:
        return "refused";
    case StatusCode::Cancelled:
        return "cancelled";
    case StatusCode::OutOfMemory:
        return "out of memory";
    case StatusCode::Io:
        return "i/o";
    case StatusCode::Internal:
        return "internal";
    }
    return "internal";
}

} // namespace attn
