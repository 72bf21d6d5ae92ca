#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "conveyor/events/cloudevent.hpp"
#include "conveyor/github/signature.hpp"
#include "conveyor/http/client.hpp"

namespace conveyor::cli {
namespace {

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

// The secret comes from an environment variable so it never appears in argv.
bool secret_from_env(const std::string& name, std::string& out) {
  const char* value = std::getenv(name.c_str());
  if (!value || !*value) {
    std::fprintf(stderr, "conveyor: environment variable %s is not set\n", name.c_str());
    return false;
  }
  out = value;
  return true;
}

std::string form_encode(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xf]);
    }
  }
  return out;
}

}  // namespace

void add_webhook_commands(CLI::App& app, int& exit_code) {
  auto* webhook = app.add_subcommand("webhook", "sign or send GitHub webhook deliveries");
  webhook->require_subcommand(1);

  auto* sign = webhook->add_subcommand("sign", "print the X-Hub-Signature-256 value for a body file");
  static std::string sign_env, sign_file;
  sign->add_option("--secret-env", sign_env, "environment variable holding the webhook secret")->required();
  sign->add_option("file", sign_file, "body file (signed byte for byte)")->required();
  sign->callback([&exit_code] {
    std::string body, secret;
    if (!read_file(sign_file, body)) {
      std::fprintf(stderr, "conveyor: cannot read %s\n", sign_file.c_str());
      exit_code = 1;
      return;
    }
    if (!secret_from_env(sign_env, secret)) {
      exit_code = 1;
      return;
    }
    std::printf("%s\n", github::signature_header(secret, body).c_str());
  });

  auto* send = webhook->add_subcommand("send", "sign a payload file and POST it like GitHub does");
  static std::string url, file, event = "push", env = "CONVEYOR_WEBHOOK_SECRET", delivery;
  static bool form = false;
  send->add_option("url", url, "endpoint, e.g. http://127.0.0.1:8080/webhooks/github")->required();
  send->add_option("file", file, "payload JSON file")->required();
  send->add_option("--event", event, "X-GitHub-Event (default push)");
  send->add_option("--secret-env", env, "environment variable holding the secret (default CONVEYOR_WEBHOOK_SECRET)");
  send->add_option("--delivery", delivery, "X-GitHub-Delivery id (default: a new UUID)");
  send->add_flag("--form", form, "send as application/x-www-form-urlencoded (payload=...)");
  send->callback([&exit_code] {
    std::string payload, secret;
    if (!read_file(file, payload)) {
      std::fprintf(stderr, "conveyor: cannot read %s\n", file.c_str());
      exit_code = 1;
      return;
    }
    if (!secret_from_env(env, secret)) {
      exit_code = 1;
      return;
    }
    const std::string body = form ? "payload=" + form_encode(payload) : payload;
    http::Headers headers;
    headers["Content-Type"] = form ? "application/x-www-form-urlencoded" : "application/json";
    headers["X-GitHub-Event"] = event;
    headers["X-GitHub-Delivery"] = delivery.empty() ? events::new_uuid() : delivery;
    headers["X-Hub-Signature-256"] = github::signature_header(secret, body);
    headers["User-Agent"] = "GitHub-Hookshot/conveyor-cli";
    auto response = http::request("POST", url, headers, body);
    if (!response) {
      std::fprintf(stderr, "conveyor: %s\n", response.error().message.c_str());
      exit_code = 1;
      return;
    }
    std::printf("%d %s\n", response->status, response->body.c_str());
    exit_code = response->status >= 200 && response->status < 300 ? 0 : 1;
  });
}

}  // namespace conveyor::cli
