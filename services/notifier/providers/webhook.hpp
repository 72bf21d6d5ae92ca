// Generic webhooks: the CDEvent itself, as received, POSTed as JSON in
// CloudEvents HTTP binary mode (ce-* headers), signed so subscribers can
// verify it came from conveyor:
//
//   X-Conveyor-Signature-256: sha256=<hex HMAC-SHA256 of the body>  (when the route has a `secret`)
//   X-Conveyor-Event: <route word, e.g. deployed>
//   X-Conveyor-Delivery: <route key>:<event id>  (the same on every retry: dedupe on it)
//
// The signature is GitHub's scheme (github::signature_header), so the same
// verification code works for both.
#pragma once

#include <string>

#include "../provider.hpp"

namespace conveyor::notifier {

class WebhookProvider final : public Provider {
 public:
  WebhookProvider(std::string url, std::string secret, const webclient::Client& client)
      : url_(std::move(url)), secret_(std::move(secret)), client_(client) {}
  Result<void> post(const Notification& notification) override;

  // The request post() sends (for tests).
  webclient::Request request(const Notification& notification) const;

 private:
  std::string url_;
  std::string secret_;
  const webclient::Client& client_;
};

}  // namespace conveyor::notifier
