// Slack incoming webhooks: one Block Kit message per notification, POSTed as
// JSON to the route's webhook URL (a secret: its path is the token).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "../provider.hpp"

namespace conveyor::notifier {

// Slack's limits (Block Kit reference, section block and message payloads).
inline constexpr std::size_t kSlackMaxSectionText = 3000;  // a section block's text
inline constexpr std::size_t kSlackMaxFieldText = 2000;    // each of a section's fields
inline constexpr std::size_t kSlackMaxFields = 10;         // fields per section
inline constexpr std::size_t kSlackMaxBlocks = 50;         // blocks per message
inline constexpr std::size_t kSlackMaxText = 3000;         // the fallback `text` (Slack cuts at 40,000; we stay short)
inline constexpr std::size_t kSlackMaxTitle = 300;         // our own cap, so details keep room in the section

class SlackProvider final : public Provider {
 public:
  SlackProvider(std::string url, const webclient::Client& client) : url_(std::move(url)), client_(client) {}
  Result<void> post(const Notification& notification) override;

  // The message: a `text` fallback (notifications, screen readers) and
  // blocks: a section with the emoji, the title in bold and the detail, a
  // section of fields (repository, pipeline, run, version, environment, the
  // commit linked), all mrkdwn-escaped and cut to Slack's limits.
  static nlohmann::json payload(const Notification& notification);

 private:
  std::string url_;
  const webclient::Client& client_;
};

}  // namespace conveyor::notifier
