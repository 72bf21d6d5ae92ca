// Blocking HTTP/1.1 client. Beast applies tcp_stream timeouts only to
// asynchronous operations, so each request runs an async chain on a private
// io_context and blocks until it finishes or the deadline passes.
#include <cctype>
#include <charconv>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "conveyor/http/client.hpp"

namespace conveyor::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// Largest response body accepted; responses here are API answers, not
// downloads.
constexpr std::uint64_t kMaxResponseBody = 256u << 20;

struct Url {
  bool tls = false;  // https
  std::string host;  // without brackets
  std::uint16_t port = 80;
  std::string target = "/";
  std::string origin;  // "http(s)://host:port", safe to put in messages (no path or query)
};

Result<Url> parse_url(const std::string& url) {
  auto starts_with_ci = [&](std::string_view prefix) {
    if (url.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(url[i])) != prefix[i]) return false;
    }
    return true;
  };
  Url out;
  std::string_view rest(url);
  if (starts_with_ci("https://")) {
    out.tls = true;
    out.port = 443;
    rest.remove_prefix(8);
  } else if (starts_with_ci("http://")) {
    rest.remove_prefix(7);
  } else {
    return make_error(Errc::invalid_argument, "URL must start with http:// or https://");
  }
  auto slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view target = rest.substr(slash);
    target = target.substr(0, target.find('#'));  // fragments are not sent
    if (target.empty() || target.front() != '/') out.target = "/" + std::string(target);
    else out.target = std::string(target);
  }
  if (authority.find('@') != std::string_view::npos) {
    return make_error(Errc::invalid_argument, "URL user info is not supported");
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return make_error(Errc::invalid_argument, "URL has an unterminated IPv6 host");
    out.host = std::string(authority.substr(1, close - 1));
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return make_error(Errc::invalid_argument, "URL has junk after the IPv6 host");
      port_text = after.substr(1);
      if (port_text.empty()) return make_error(Errc::invalid_argument, "URL has an empty port");
    }
  } else {
    auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return make_error(Errc::invalid_argument, "URL has an empty port");
    }
  }
  if (out.host.empty()) return make_error(Errc::invalid_argument, "URL has no host");
  for (char c : out.host) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == '/' || c == '\\') {
      return make_error(Errc::invalid_argument, "URL host contains an invalid character");
    }
  }
  if (!port_text.empty()) {
    unsigned long port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return make_error(Errc::invalid_argument, "URL has an invalid port");
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  for (char c : out.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return make_error(Errc::invalid_argument, "URL path contains whitespace or control characters");
    }
  }
  const bool v6 = out.host.find(':') != std::string::npos;
  out.origin = std::string(out.tls ? "https://" : "http://") + (v6 ? "[" + out.host + "]" : out.host) + ":" +
               std::to_string(out.port);
  return out;
}

std::string host_header(const Url& u) {
  std::string h = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  if (u.port != (u.tls ? 443 : 80)) h += ":" + std::to_string(u.port);
  return h;
}

// One TLS client context for the process: peers are verified against the
// system's trust store (OpenSSL's default paths, which honour SSL_CERT_FILE
// and SSL_CERT_DIR), TLS 1.2 or later.
asio::ssl::context& tls_context() {
  static asio::ssl::context* ctx = [] {
    auto* c = new asio::ssl::context(asio::ssl::context::tls_client);
    c->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    c->set_default_verify_paths();
    c->set_verify_mode(asio::ssl::verify_peer);
    return c;
  }();
  return *ctx;
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  (void)asio::ip::make_address(host, ec);
  return !ec;
}

bool is_timeout(const error_code& ec) {
  return ec == beast::error::timeout || ec == asio::error::timed_out;
}

// One request's async chain; run() drives it on a private io_context.
// Stream is beast::tcp_stream (http) or beast::ssl_stream over it (https:
// SNI, peer verified against the trust store and the host name).
template <class Stream>
class Exchange {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  Exchange(Url url, bhttp::request<bhttp::string_body> req, std::chrono::milliseconds timeout)
      : url_(std::move(url)), req_(std::move(req)), timeout_(timeout), stream_(make_stream()) {
    parser_.body_limit(kMaxResponseBody);
  }

  Result<ClientResponse> run() {
    if constexpr (kTls) {
      // SNI names the host (never an IP literal, RFC 6066 §3); the
      // certificate must match it.
      if (!is_ip_literal(url_.host) && !SSL_set_tlsext_host_name(stream_.native_handle(), url_.host.c_str())) {
        return make_error(Errc::internal, "https " + url_.origin + ": cannot set the TLS server name");
      }
      stream_.set_verify_callback(asio::ssl::host_name_verification(url_.host));
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    beast::get_lowest_layer(stream_).expires_at(deadline);
    // Name resolution has no tcp_stream timeout: a timer cancels it.
    guard_.expires_at(deadline);
    guard_.async_wait([this](error_code ec) {
      if (!ec && resolving_) {
        resolve_timed_out_ = true;
        resolver_.cancel();
      }
    });
    resolving_ = true;
    resolver_.async_resolve(url_.host, std::to_string(url_.port), tcp::resolver::numeric_service,
                            [this](error_code ec, tcp::resolver::results_type results) {
                              resolving_ = false;
                              guard_.cancel();
                              if (ec) return finish(resolve_timed_out_ ? error_code(beast::error::timeout) : ec, "resolve");
                              beast::get_lowest_layer(stream_).async_connect(
                                  results, [this](error_code cec, const tcp::endpoint&) {
                                    if (cec) return finish(cec, "connect");
                                    if constexpr (kTls) {
                                      stream_.async_handshake(asio::ssl::stream_base::client, [this](error_code hec) {
                                        if (hec) return finish(hec, "TLS handshake");
                                        send();
                                      });
                                    } else {
                                      send();
                                    }
                                  });
                            });
    ioc_.run();
    if (!result_) return make_error(Errc::internal, "http client: request did not complete");
    return std::move(*result_);
  }

 private:
  Stream make_stream() {
    if constexpr (kTls) {
      return Stream(ioc_, tls_context());
    } else {
      return Stream(ioc_);
    }
  }

  void send() {
    bhttp::async_write(stream_, req_, [this](error_code wec, std::size_t) {
      if (wec) return finish(wec, "write");
      bhttp::async_read(stream_, buffer_, parser_, [this](error_code rec, std::size_t) { finish(rec, "read"); });
    });
  }

  void finish(error_code ec, const char* step) {
    guard_.cancel();
    // A TLS peer that closes without close_notify still sent a complete
    // response when the parser says so.
    if constexpr (kTls) {
      if (ec == asio::ssl::error::stream_truncated && parser_.is_done()) ec = {};
    }
    error_code ignored;
    auto& lowest = beast::get_lowest_layer(stream_);
    lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest.close();
    const std::string where = std::string(req_.method_string()) + " " + url_.origin;
    if (ec) {
      if (is_timeout(ec)) {
        result_.emplace(make_error(Errc::timeout, where + ": timed out after " + std::to_string(timeout_.count()) +
                                                      " ms (" + step + ")"));
      } else {
        // Refused, reset, unresolvable, or a response that is not HTTP:
        // all mean the peer cannot serve us right now.
        result_.emplace(make_error(Errc::unavailable, where + ": " + step + " failed: " + ec.message()));
      }
      return;
    }
    auto& res = parser_.get();
    ClientResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      auto [it, inserted] = out.headers.emplace(std::string(f.name_string()), std::string(f.value()));
      if (!inserted) {
        it->second += ", ";
        it->second.append(f.value().data(), f.value().size());
      }
    }
    out.body = std::move(res.body());
    result_.emplace(std::move(out));
  }

  Url url_;
  bhttp::request<bhttp::string_body> req_;
  std::chrono::milliseconds timeout_;
  asio::io_context ioc_{1};
  tcp::resolver resolver_{ioc_};
  asio::steady_timer guard_{ioc_};
  Stream stream_;
  beast::flat_buffer buffer_;
  bhttp::response_parser<bhttp::string_body> parser_;
  bool resolving_ = false;
  bool resolve_timed_out_ = false;
  std::optional<Result<ClientResponse>> result_;
};

}  // namespace

Result<ClientResponse> request(const std::string& method, const std::string& url, const Headers& headers,
                               const std::string& body, std::chrono::milliseconds timeout) {
  auto parsed = parse_url(url);
  if (!parsed) return std::move(parsed).error();
  if (method.empty() || method.find_first_of(" \t\r\n") != std::string::npos) {
    return make_error(Errc::invalid_argument, "invalid HTTP method");
  }
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(parsed->target);
  req.version(11);
  req.set(bhttp::field::host, host_header(*parsed));
  req.set(bhttp::field::user_agent, "conveyor");
  // One request per connection: no pooling here.
  req.set(bhttp::field::connection, "close");
  for (const auto& [name, value] : headers) {
    if (name.empty() || name.find_first_of(":\r\n") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return make_error(Errc::invalid_argument, "invalid header name or value");
    }
    if (beast::iequals(name, "Content-Length") || beast::iequals(name, "Transfer-Encoding")) continue;
    req.set(name, value);
  }
  req.body() = body;
  req.prepare_payload();
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.content_length(body.size());
  }
  if (parsed->tls) {
    Exchange<beast::ssl_stream<beast::tcp_stream>> exchange(std::move(parsed).value(), std::move(req), timeout);
    return exchange.run();
  }
  Exchange<beast::tcp_stream> exchange(std::move(parsed).value(), std::move(req), timeout);
  return exchange.run();
}

}  // namespace conveyor::http
