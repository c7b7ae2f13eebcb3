// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "mapmath.h"

#include <QString>
#include <QStringList>

#include <optional>

namespace attn::app {

/** @brief Everything a `.attnscope` session file restores: models, prompt, selection, marked span, view options. */
struct SessionState {
    QStringList models; ///< model directories, in load order
    /// Where each model lives, parallel to `models`: HOST:PORT of an attnscope-server (the path is a path there), or
    /// empty for this machine. In the file a remote model is {"path": ..., "server": ...}; a local one a plain path.
    QStringList servers;
    /// Parallel to `models` too: the device and dtype a remote model ran with on its server (empty: `device` and
    /// `dtype` below, which are this machine's choice).
    QStringList serverDevices;
    QStringList serverDtypes;
    QString prompt;
    int layer = 0;
    int head = 0;
    qint64 spanBegin = -1; ///< relevant key span [begin, end); -1 = none
    qint64 spanEnd = -1;
    ColorOptions colors;
    QString device = QStringLiteral("auto");
    QString dtype = QStringLiteral("fp32");
    bool compareTab = false;
};

/// What a session may hold. A session file comes from anywhere; these keep its parsing and the prompt editor's
/// layout fast (a 1 MB one-line prompt froze the UI for minutes) while leaving room for long-context prompts.
constexpr qsizetype kMaxSessionBytes = qsizetype(4) << 20;
constexpr qsizetype kMaxSessionPromptChars = 512 * 1024;
constexpr qsizetype kMaxSessionLineChars = 32 * 1024;
constexpr qsizetype kMaxSessionModels = 64;
constexpr qsizetype kMaxSessionTextChars = 4096; ///< one model path
constexpr qsizetype kMaxSessionServerChars = 300; ///< one HOST:PORT

/// JSON text of a session (versioned: "format": "attnscope-session", "version": 1).
QByteArray sessionToJson(const SessionState& state);
/// Parses a session file's text; on failure returns nothing and sets *error to a message naming the problem.
std::optional<SessionState> sessionFromJson(const QByteArray& json, QString* error);

} // namespace attn::app
