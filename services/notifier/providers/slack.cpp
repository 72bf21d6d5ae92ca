#include "slack.hpp"

#include "../text.hpp"

namespace conveyor::notifier {
namespace {

using nlohmann::json;

std::string emoji(const Notification& n) {
  if (n.kind == Kind::rolledback) return ":rewind:";
  switch (n.status) {
    case Status::pending: return ":arrow_forward:";
    case Status::success: return ":white_check_mark:";
    case Status::failure: return ":x:";
    case Status::error: return ":warning:";
  }
  return ":grey_question:";
}

json mrkdwn(std::string text) { return json{{"type", "mrkdwn"}, {"text", std::move(text)}}; }

std::string field_label(std::string_view name) { return "*" + std::string(name) + "*\n"; }

// <url|label>: both escaped, so neither can close the link early.
std::string link(const std::string& url, const std::string& label) {
  return "<" + text::slack_escape(url) + "|" + text::slack_escape(label) + ">";
}

}  // namespace

json SlackProvider::payload(const Notification& n) {
  std::string head = emoji(n) + " *" + text::slack_text(n.title, kSlackMaxTitle) + "*";
  if (!n.detail.empty()) {
    const std::size_t room = kSlackMaxSectionText - text::length(head) - 1;
    head += "\n" + text::slack_text(n.detail, room);
  }
  json fields = json::array();
  // "*Name*\nvalue", the value escaped and cut so the whole fits a field.
  auto add = [&](std::string_view name, const std::string& value) {
    if (value.empty() || fields.size() >= kSlackMaxFields) return;
    const std::string label = field_label(name);
    fields.push_back(mrkdwn(label + text::slack_text(value, kSlackMaxFieldText - text::length(label))));
  };
  add("Repository", n.repository);
  add("Pipeline", n.pipeline);
  add("Run", n.run_id);
  add("Version", n.version);
  add("Environment", n.environment);
  if (!n.sha.empty() && fields.size() < kSlackMaxFields) {
    std::string commit = link(n.link, n.sha.substr(0, 7));
    if (!n.ref.empty()) commit += " (" + text::slack_text(short_ref(n.ref), 255) + ")";
    fields.push_back(mrkdwn(field_label("Commit") + commit));  // short: a 7-character label, a ref of <= 255
  }
  json blocks = json::array();
  blocks.push_back({{"type", "section"}, {"text", mrkdwn(head)}});
  if (!fields.empty()) blocks.push_back({{"type", "section"}, {"fields", std::move(fields)}});
  if (n.sha.empty() && !n.link.empty()) {
    blocks.push_back({{"type", "context"}, {"elements", json::array({mrkdwn(link(n.link, "Repository"))})}});
  }
  static_assert(3 <= kSlackMaxBlocks, "the message has at most three blocks");
  return json{{"text", text::slack_text(n.title, kSlackMaxText)}, {"blocks", std::move(blocks)}};
}

Result<void> SlackProvider::post(const Notification& n) {
  webclient::Request request;
  request.url = url_;
  request.headers["Content-Type"] = "application/json; charset=utf-8";
  request.body = payload(n).dump();
  auto sent = client_.send(request);
  if (!sent) return std::move(sent).error();
  return {};
}

}  // namespace conveyor::notifier
