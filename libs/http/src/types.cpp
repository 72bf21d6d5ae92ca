// Plain-type helpers of the http library (no Beast here: keeps this TU cheap).
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "conveyor/http/server.hpp"

namespace conveyor::http {
namespace {

constexpr unsigned char ascii_lower(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c - 'A' + 'a') : c;
}

}  // namespace

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const noexcept {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return ascii_lower(static_cast<unsigned char>(x)) < ascii_lower(static_cast<unsigned char>(y));
  });
}

std::string Request::header(std::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string{} : it->second;
}

Response json_response(int status, std::string json_body) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(json_body);
  return r;
}

Response text_response(int status, std::string text) {
  Response r;
  r.status = status;
  r.body = std::move(text);
  return r;
}

Result<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view listen) {
  auto fail = [&](std::string_view why) {
    return make_error(Errc::invalid_argument,
                      "invalid listen address \"" + std::string(listen) + "\": " + std::string(why));
  };
  std::string host;
  std::string_view port_text;
  if (!listen.empty() && listen.front() == '[') {
    auto close = listen.find(']');
    if (close == std::string_view::npos) return fail("missing ']' after IPv6 address");
    host = std::string(listen.substr(1, close - 1));
    if (host.empty()) return fail("empty IPv6 address");
    auto rest = listen.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return fail("missing port (expected \"[v6]:port\")");
    port_text = rest.substr(1);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string_view::npos) return fail("missing port (expected \"host:port\")");
    host = std::string(listen.substr(0, colon));
    if (host.find(':') != std::string::npos) return fail("IPv6 addresses must be bracketed, e.g. \"[::1]:8080\"");
    // ":8080" means every IPv4 interface, as in Go's net.Listen.
    if (host.empty()) host = "0.0.0.0";
    port_text = listen.substr(colon + 1);
  }
  if (port_text.empty()) return fail("missing port");
  unsigned long port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec == std::errc::result_out_of_range) return fail("port out of range (0-65535)");
  if (ec != std::errc{} || end != port_text.data() + port_text.size()) return fail("port is not a number");
  if (port > 65535) return fail("port out of range (0-65535)");
  return std::pair<std::string, std::uint16_t>{std::move(host), static_cast<std::uint16_t>(port)};
}

}  // namespace conveyor::http
