// Discord webhooks: one embed per notification, coloured by outcome, POSTed
// as JSON to the route's webhook URL (a secret: its path is the token).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "../provider.hpp"

namespace conveyor::notifier {

// Discord's embed limits (developer docs, "Embed Limits").
inline constexpr std::size_t kDiscordMaxTitle = 256;
inline constexpr std::size_t kDiscordMaxDescription = 4096;
inline constexpr std::size_t kDiscordMaxFields = 25;
inline constexpr std::size_t kDiscordMaxFieldName = 256;
inline constexpr std::size_t kDiscordMaxFieldValue = 1024;
inline constexpr std::size_t kDiscordMaxFooter = 2048;
inline constexpr std::size_t kDiscordMaxAuthor = 256;
inline constexpr std::size_t kDiscordMaxTotal = 6000;  // title + description + field names/values + footer + author

// Embed colours by status (0xRRGGBB).
inline constexpr int kDiscordPending = 0x0969DA;
inline constexpr int kDiscordSuccess = 0x2EA043;
inline constexpr int kDiscordFailure = 0xCF222E;
inline constexpr int kDiscordError = 0xBF8700;

class DiscordProvider final : public Provider {
 public:
  DiscordProvider(std::string url, const webclient::Client& client) : url_(std::move(url)), client_(client) {}
  Result<void> post(const Notification& notification) override;

  // The message: one embed (author = pipeline, title = the title linking to
  // the commit, description = the detail, inline fields, footer with the run,
  // timestamp of the event, colour by status), Discord-markdown-escaped and
  // cut to the embed limits, and `allowed_mentions: {parse: []}` so nothing
  // in it can ping anyone.
  static nlohmann::json payload(const Notification& notification);

 private:
  std::string url_;
  const webclient::Client& client_;
};

}  // namespace conveyor::notifier
