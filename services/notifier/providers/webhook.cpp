#include "webhook.hpp"

#include "conveyor/github/signature.hpp"

namespace conveyor::notifier {

webclient::Request WebhookProvider::request(const Notification& n) const {
  webclient::Request r;
  r.url = url_;
  r.body = n.cdevent;
  r.headers["Content-Type"] = "application/json";
  r.headers["ce-specversion"] = "1.0";
  r.headers["ce-id"] = n.event_id;
  r.headers["ce-source"] = n.event_source;
  r.headers["ce-type"] = n.event_type;
  if (!n.event_time.empty()) r.headers["ce-time"] = n.event_time;
  if (!n.event_subject.empty()) r.headers["ce-subject"] = n.event_subject;
  r.headers["X-Conveyor-Event"] = std::string(to_string(n.kind));
  r.headers["X-Conveyor-Delivery"] = n.key;
  if (!secret_.empty()) r.headers["X-Conveyor-Signature-256"] = github::signature_header(secret_, r.body);
  return r;
}

Result<void> WebhookProvider::post(const Notification& n) {
  auto sent = client_.send(request(n));
  if (!sent) return std::move(sent).error();
  return {};
}

}  // namespace conveyor::notifier
