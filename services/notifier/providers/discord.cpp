#include "discord.hpp"

#include <algorithm>

#include "../text.hpp"

namespace conveyor::notifier {
namespace {

using nlohmann::json;

int colour(Status status) {
  switch (status) {
    case Status::pending: return kDiscordPending;
    case Status::success: return kDiscordSuccess;
    case Status::failure: return kDiscordFailure;
    case Status::error: return kDiscordError;
  }
  return kDiscordError;
}

}  // namespace

json DiscordProvider::payload(const Notification& n) {
  json embed = json::object();
  std::size_t total = 0;
  auto put = [&total](json& where, const char* key, std::string value) {
    total += text::length(value);
    where[key] = std::move(value);
  };
  put(embed, "title", text::discord_text(n.title, kDiscordMaxTitle));
  if (!n.link.empty()) embed["url"] = n.link;
  embed["color"] = colour(n.status);

  json fields = json::array();
  auto add = [&](std::string_view name, std::string value_markdown) {
    if (value_markdown.empty() || fields.size() >= kDiscordMaxFields) return;
    json f = json::object();
    put(f, "name", text::discord_text(name, kDiscordMaxFieldName));
    put(f, "value", std::move(value_markdown));
    f["inline"] = true;
    fields.push_back(std::move(f));
  };
  auto escaped = [](const std::string& value) { return text::discord_text(value, kDiscordMaxFieldValue); };
  add("Repository", escaped(n.repository));
  add("Run", escaped(n.run_id));
  add("Version", escaped(n.version));
  add("Environment", escaped(n.environment));
  if (!n.sha.empty()) {
    // [abc1234](<link>) (main): a masked link; the ref is data, so escaped.
    std::string commit = "[" + n.sha.substr(0, 7) + "](" + n.link + ")";
    if (!n.ref.empty()) commit += " (" + text::discord_text(short_ref(n.ref), 255) + ")";
    add("Commit", text::truncate(commit, kDiscordMaxFieldValue));
  }
  if (!fields.empty()) embed["fields"] = std::move(fields);

  json footer = json::object();
  put(footer, "text", text::discord_text("conveyor run " + n.run_id, kDiscordMaxFooter));
  embed["footer"] = std::move(footer);
  json author = json::object();
  put(author, "name", text::discord_text(n.pipeline.empty() ? n.repository : n.pipeline, kDiscordMaxAuthor));
  embed["author"] = std::move(author);
  if (!n.event_time.empty()) embed["timestamp"] = n.event_time;

  // The description goes last: it takes what the 6000 total leaves.
  if (!n.detail.empty() && total < kDiscordMaxTotal) {
    const std::size_t room = std::min(kDiscordMaxDescription, kDiscordMaxTotal - total);
    put(embed, "description", text::discord_text(n.detail, room));
  }
  return json{{"embeds", json::array({std::move(embed)})}, {"allowed_mentions", {{"parse", json::array()}}}};
}

Result<void> DiscordProvider::post(const Notification& n) {
  webclient::Request request;
  request.url = url_;
  request.headers["Content-Type"] = "application/json";
  request.body = payload(n).dump();
  auto sent = client_.send(request);
  if (!sent) return std::move(sent).error();
  return {};
}

}  // namespace conveyor::notifier
