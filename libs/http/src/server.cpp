// The HTTP/1.1 server: Boost.Beast over one io_context run by N threads.
//
// Threading model
//   * One io_context, `ServerOptions::threads` threads calling run().
//   * Each connection is a Session owned by shared_ptr and bound to its own
//     strand; every socket operation and every state change of a Session runs
//     on that strand, so a Session needs no lock.
//   * A handler is called on the Session's strand (an I/O thread). When it
//     replies before returning, the response is written inline (no thread
//     hop). When it replies later from another thread, the reply is posted
//     onto the Session's strand.
//   * No request pipelining: the next request is read only after the
//     response to the previous one has been written.
//
// Lifetime
//   Sessions hold a shared_ptr to the ServerCore (which owns the io_context),
//   so a Reply kept by a handler past stop() stays safe to call (it is then
//   dropped). stop() joins the I/O threads, closes every open connection and
//   destroys all pending handlers, which breaks the ownership cycles between
//   queued handlers, Sessions and the core.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "conveyor/http/server.hpp"

namespace conveyor::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Strand = asio::strand<asio::io_context::executor_type>;

// After an error response whose request was not read to its end (413, 431,
// 400) the server half-closes and discards what the client is still sending
// for at most this long / this many bytes, so the client reads the response
// instead of a connection reset.
constexpr auto kDrainTime = std::chrono::seconds(2);
constexpr std::size_t kDrainMaxBytes = 8u << 20;
constexpr std::size_t kReadChunk = 16u << 10;
// Back-off after a failed accept (e.g. EMFILE) so the loop does not spin.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);

// One JSON line on stderr. The logging library is not a dependency of http;
// the fields mirror its shape.
void log_line(const char* level, std::string_view msg, std::string_view detail) {
  std::string out = "{\"level\":\"";
  out += level;
  out += "\",\"component\":\"http\",\"msg\":\"";
  auto escape = [&out](std::string_view s) {
    for (char c : s) {
      auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (u < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", u);
        out += buf;
      } else {
        out += c;
      }
    }
  };
  escape(msg);
  out += "\",\"detail\":\"";
  escape(detail);
  out += "\"}\n";
  std::fputs(out.c_str(), stderr);
}

bool has_crlf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

class IoContext : public asio::io_context {
 public:
  using asio::io_context::io_context;
  // Destroys every pending handler now, as ~io_context does first. The
  // context is not run again afterwards.
  void destroy_pending_handlers() { shutdown(); }
};

class Session;

struct Route {
  std::vector<std::pair<std::string, Handler>> methods;
  std::string allow;  // "GET, POST" for 405 answers
};

class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  explicit ServerCore(ServerOptions opts) : options(std::move(opts)) {
    if (options.threads < 1) options.threads = 1;
  }
  ~ServerCore() { stop(); }

  void route(std::string method, std::string path, Handler handler);
  Result<void> start();
  void stop();

  void register_session(Session* s, std::weak_ptr<Session> w) {
    std::lock_guard lock(mutex);
    sessions.emplace(s, std::move(w));
  }
  void unregister_session(Session* s) {
    std::lock_guard lock(mutex);
    sessions.erase(s);
  }

  ServerOptions options;
  std::unordered_map<std::string, Route> routes;  // read-only once started
  IoContext ioc;
  tcp::acceptor acceptor{ioc};
  asio::steady_timer accept_retry{ioc};
  std::atomic<std::uint16_t> bound_port{0};

  enum class State { idle, running, stopped };
  // Guards state, threads, sessions; held while posting a cross-thread reply
  // so nothing is queued after stop() has drained the io_context.
  std::mutex mutex;
  State state = State::idle;

 private:
  void do_accept();
  void join_and_clean(std::vector<std::thread> threads);

  std::vector<std::thread> threads_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
};

// Set on each I/O thread: lets stop() notice it is called from a handler.
thread_local const ServerCore* tls_core = nullptr;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<ServerCore> core, Strand strand, tcp::socket socket, std::string remote)
      : core_(std::move(core)), strand_(std::move(strand)), stream_(std::move(socket)), remote_(std::move(remote)) {}
  ~Session() { core_->unregister_session(this); }

  void start() {
    core_->register_session(this, weak_from_this());
    asio::dispatch(strand_, [self = shared_from_this()] { self->read_request(true); });
  }

  // Only from stop(), when no I/O thread runs.
  void close_now() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  // Entry point of a Reply, from any thread.
  void deliver(std::uint64_t seq, Response response) {
    if (strand_.running_in_this_thread()) {
      on_reply(seq, std::move(response));
      return;
    }
    std::lock_guard lock(core_->mutex);
    if (core_->state != ServerCore::State::running) return;  // server stopped: drop
    asio::post(strand_, [self = shared_from_this(), seq, r = std::move(response)]() mutable {
      self->on_reply(seq, std::move(r));
    });
  }

 private:
  void read_request(bool first) {
    if (!first && buffer_.size() == 0) {
      // Keep-alive: wait for the next request's first bytes under the idle
      // timeout; the read timeout starts once they arrive.
      stream_.expires_after(core_->options.idle_timeout);
      stream_.async_read_some(buffer_.prepare(kReadChunk), [self = shared_from_this()](error_code ec, std::size_t n) {
        if (ec) return self->close_quietly();
        self->buffer_.commit(n);
        self->read_header();
      });
      return;
    }
    read_header();
  }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(core_->options.max_header_bytes);
    parser_->body_limit(core_->options.max_body_bytes);
    stream_.expires_after(core_->options.read_timeout);  // the whole request
    bhttp::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](error_code ec, std::size_t) {
      self->on_header(ec);
    });
  }

  void on_header(error_code ec) {
    if (ec) return fail_read(ec);
    // Beast already refuses a Content-Length above body_limit while parsing
    // the header; this repeats the check so the rule is visible here.
    if (auto len = parser_->content_length(); len && *len > core_->options.max_body_bytes) {
      return send_error(413, "request body too large");
    }
    if (parser_->is_done()) return dispatch_request();
    auto& req = parser_->get();
    if (req.version() >= 11 && beast::iequals(req[bhttp::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](error_code ec, std::size_t) {
                          if (ec) return self->close_quietly();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](error_code ec, std::size_t) {
      if (ec) return self->fail_read(ec);
      self->dispatch_request();
    });
  }

  void fail_read(error_code ec) {
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      return send_error(431, "request header fields too large");
    }
    if (ec == bhttp::error::body_limit) return send_error(413, "request body too large");
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return close_quietly();
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
      return send_error(400, "bad request");
    }
    // Network errors, timeouts (beast::error::timeout), resets: nothing to answer.
    close_quietly();
  }

  void dispatch_request() {
    auto msg = parser_->release();
    parser_.reset();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    head_ = msg.method() == bhttp::verb::head;

    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.path = req.target.substr(0, req.target.find('?'));
    for (const auto& f : msg) {
      auto [it, inserted] = req.headers.emplace(std::string(f.name_string()), std::string(f.value()));
      if (!inserted) {  // repeated field: combine (RFC 9110 §5.3)
        it->second += ", ";
        it->second.append(f.value().data(), f.value().size());
      }
    }
    req.body = std::move(msg.body());
    req.remote = remote_;

    const auto& routes = core_->routes;
    auto rit = routes.find(req.path);
    if (rit == routes.end()) return write_response(text_response(404, "not found\n"), !keep_alive_);
    const Handler* handler = nullptr;
    for (const auto& [method, h] : rit->second.methods) {
      if (method == req.method) {
        handler = &h;
        break;
      }
    }
    if (handler == nullptr) {
      auto r = text_response(405, "method not allowed\n");
      r.headers.emplace("Allow", rit->second.allow);
      return write_response(std::move(r), !keep_alive_);
    }

    const std::uint64_t seq = ++seq_;
    awaiting_reply_ = true;
    auto once = std::make_shared<std::atomic<bool>>(false);
    Reply reply = [self = shared_from_this(), seq, once](Response r) {
      if (once->exchange(true)) return;  // a second reply is ignored
      self->deliver(seq, std::move(r));
    };
    std::string path = req.path;
    try {
      (*handler)(std::move(req), std::move(reply));
    } catch (const std::exception& e) {
      log_line("error", "handler threw", path + ": " + e.what());
      if (!once->exchange(true)) on_reply(seq, text_response(500, "internal server error\n"));
    } catch (...) {
      log_line("error", "handler threw", path + ": unknown exception");
      if (!once->exchange(true)) on_reply(seq, text_response(500, "internal server error\n"));
    }
  }

  void on_reply(std::uint64_t seq, Response r) {
    if (!awaiting_reply_ || seq != seq_) return;
    awaiting_reply_ = false;
    write_response(std::move(r), !keep_alive_);
  }

  void send_error(int status, std::string_view text) {
    keep_alive_ = false;
    drain_on_close_ = true;
    std::string body(text);
    body += '\n';
    write_response(text_response(status, std::move(body)), true);
  }

  void write_response(Response r, bool close) {
    res_ = {};
    res_.version(version_);
    res_.result(r.status >= 100 && r.status <= 999 ? static_cast<unsigned>(r.status) : 500u);
    res_.set(bhttp::field::server, "conveyor");
    if (!r.content_type.empty() && !has_crlf(r.content_type)) res_.set(bhttp::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) {
      if (name.empty() || has_crlf(name) || has_crlf(value) || name.find(':') != std::string::npos) continue;
      if (beast::iequals(name, "Content-Length") || beast::iequals(name, "Transfer-Encoding")) continue;
      if (beast::iequals(name, "Connection")) {
        if (beast::iequals(value, "close")) close = true;
        continue;
      }
      res_.set(name, value);
    }
    res_.body() = std::move(r.body);
    res_.keep_alive(!close);
    res_.prepare_payload();
    if (head_) res_.body().clear();  // Content-Length stays that of the GET body
    stream_.expires_after(core_->options.read_timeout);
    bhttp::async_write(stream_, res_, [self = shared_from_this(), close](error_code ec, std::size_t) {
      if (ec) return self->close_quietly();
      if (close) return self->close_gracefully();
      self->res_ = {};
      self->read_request(false);
    });
  }

  void close_quietly() { stream_.close(); }

  // Half-close so the client sees the response and EOF, then (after an error
  // answer) discard what the client still sends before closing.
  void close_gracefully() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec || !drain_on_close_) return close_quietly();
    stream_.expires_after(kDrainTime);
    buffer_.clear();
    drain();
  }

  void drain() {
    stream_.async_read_some(buffer_.prepare(kReadChunk), [self = shared_from_this()](error_code ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ >= kDrainMaxBytes) return self->close_quietly();
      self->drain();
    });
  }

  std::shared_ptr<ServerCore> core_;
  Strand strand_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> res_;
  std::string remote_;
  std::uint64_t seq_ = 0;
  std::size_t drained_ = 0;
  unsigned version_ = 11;
  bool awaiting_reply_ = false;
  bool keep_alive_ = false;
  bool head_ = false;
  bool drain_on_close_ = false;
};

std::string format_endpoint(const tcp::endpoint& ep) {
  auto addr = ep.address();
  std::string host = addr.to_string();
  if (addr.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

void ServerCore::route(std::string method, std::string path, Handler handler) {
  {
    std::lock_guard lock(mutex);
    if (state != State::idle) {
      log_line("error", "route added after start is ignored", method + " " + path);
      return;
    }
  }
  auto& r = routes[path];
  for (auto& [m, h] : r.methods) {
    if (m == method) {  // re-registration replaces
      h = std::move(handler);
      return;
    }
  }
  r.methods.emplace_back(std::move(method), std::move(handler));
  std::vector<std::string> names;
  for (const auto& [m, h] : r.methods) names.push_back(m);
  std::sort(names.begin(), names.end());
  r.allow.clear();
  for (const auto& n : names) {
    if (!r.allow.empty()) r.allow += ", ";
    r.allow += n;
  }
}

Result<void> ServerCore::start() {
  std::lock_guard lock(mutex);
  if (state != State::idle) return make_error(Errc::conflict, "http server already started or stopped");
  const std::string where = options.host + ":" + std::to_string(options.port);
  error_code ec;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(options.host, std::to_string(options.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return make_error(Errc::unavailable, "cannot resolve listen address " + where + ": " + ec.message());
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  auto fail = [&](const char* step) {
    error_code ignored;
    acceptor.close(ignored);
    return make_error(Errc::unavailable, std::string("cannot listen on ") + where + " (" + step + "): " + ec.message());
  };
  if (acceptor.open(endpoint.protocol(), ec)) return fail("open");
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec)) return fail("reuse_address");
  if (acceptor.bind(endpoint, ec)) return fail("bind");
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec)) return fail("listen");
  bound_port = acceptor.local_endpoint(ec).port();
  state = State::running;
  do_accept();
  for (int i = 0; i < options.threads; ++i) {
    threads_.emplace_back([this] {
      tls_core = this;
      for (;;) {
        try {
          ioc.run();
          break;
        } catch (const std::exception& e) {
          log_line("error", "exception escaped an I/O handler", e.what());
        }
      }
      tls_core = nullptr;
    });
  }
  return {};
}

void ServerCore::do_accept() {
  auto strand = asio::make_strand(ioc);
  acceptor.async_accept(strand, [this, strand](error_code ec, tcp::socket socket) mutable {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      log_line("warn", "accept failed", ec.message());
      accept_retry.expires_after(kAcceptRetryDelay);
      accept_retry.async_wait([this](error_code wait_ec) {
        if (!wait_ec) do_accept();
      });
      return;
    }
    error_code opt_ec;
    socket.set_option(tcp::no_delay(true), opt_ec);  // small responses on keep-alive: no Nagle delay
    auto remote_ep = socket.remote_endpoint(opt_ec);
    std::string remote = opt_ec ? std::string("unknown") : format_endpoint(remote_ep);
    std::make_shared<Session>(shared_from_this(), std::move(strand), std::move(socket), std::move(remote))->start();
    do_accept();
  });
}

void ServerCore::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex);
    if (state == State::stopped) return;
    const bool was_running = state == State::running;
    state = State::stopped;
    if (!was_running) return;
    threads.swap(threads_);
  }
  ioc.stop();
  if (tls_core == this) {
    // Called from a handler on one of our I/O threads: that thread cannot
    // join itself, so a helper finishes the job once the handler returns.
    std::thread([self = shared_from_this(), t = std::move(threads)]() mutable {
      self->join_and_clean(std::move(t));
    }).detach();
    return;
  }
  join_and_clean(std::move(threads));
}

void ServerCore::join_and_clean(std::vector<std::thread> threads) {
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  // No I/O thread runs from here on.
  error_code ec;
  acceptor.close(ec);
  accept_retry.cancel();
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mutex);
    for (auto& [ptr, weak] : sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->close_now();
  live.clear();
  ioc.destroy_pending_handlers();
}

}  // namespace

struct Server::Impl : ServerCore {
  using ServerCore::ServerCore;
};

Server::Server(ServerOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}

Server::~Server() { stop(); }

void Server::route(std::string method, std::string path, Handler handler) {
  impl_->route(std::move(method), std::move(path), std::move(handler));
}

Result<void> Server::start() { return impl_->start(); }

std::uint16_t Server::port() const { return impl_->bound_port.load(); }

void Server::stop() { impl_->stop(); }

}  // namespace conveyor::http
