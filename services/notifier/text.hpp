// Text for chat providers: UTF-8-safe truncation to their limits and escaping
// of their markup, so event data (branch names, error text, commit messages)
// renders as text and never as markup, mentions or links.
//
// Lengths are counted in UTF-16 code units: what Slack and Discord count as
// "characters" is at most that, so a text within the limit here is within
// theirs. Truncation never cuts inside a UTF-8 sequence or an escape, and
// marks the cut with "…" (one unit, inside the limit).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace conveyor::notifier::text {

inline constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026

// Length in UTF-16 code units; an invalid byte counts as one (it becomes U+FFFD).
std::size_t length(std::string_view utf8);

// `utf8` with every invalid byte sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view utf8);

// At most `max` units (max >= 1): the text itself when it fits, else its
// longest prefix of whole code points followed by "…".
std::string truncate(std::string_view utf8, std::size_t max);

// Slack mrkdwn: &, < and > as &amp; &lt; &gt; (Slack's only escapes; with
// them escaped no <link|...>, <!channel> or <@user> can be formed).
std::string slack_escape(std::string_view utf8);

// Discord markdown: \ * _ ~ ` | > each preceded by a backslash, and
// @everyone / @here broken by a zero-width space after the '@'.
std::string discord_escape(std::string_view utf8);

// Escaped, then cut to at most `max` units without splitting an escape
// ("&amp;", "\*") or a code point.
std::string slack_text(std::string_view utf8, std::size_t max);
std::string discord_text(std::string_view utf8, std::size_t max);

}  // namespace conveyor::notifier::text
