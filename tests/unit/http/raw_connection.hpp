// A raw TCP client for server tests: sends exact bytes and parses responses
// by hand, so tests can do what a well-behaved client never would (send only
// headers, garbage, oversize fields). Every read has a deadline.
#pragma once

#include <poll.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace conveyor::http::test {

struct RawResponse {
  int status = 0;
  std::string head;  // status line + headers, CRLF separated
  std::string body;

  // Value of a header (case-insensitive name), or "" when absent.
  std::string header(const std::string& name) const {
    auto lower = [](std::string s) {
      for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return s;
    };
    const std::string want = lower(name) + ":";
    std::size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos + 2 < head.size()) {
      std::size_t end = head.find("\r\n", pos + 2);
      std::string line = head.substr(pos + 2, end == std::string::npos ? std::string::npos : end - pos - 2);
      if (lower(line.substr(0, want.size())) == want) {
        std::string v = line.substr(want.size());
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        return v;
      }
      pos = end;
    }
    return "";
  }
};

class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port, std::chrono::milliseconds read_timeout = std::chrono::seconds(10))
      : socket_(ioc_), read_timeout_(read_timeout) {
    boost::asio::ip::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port);
    socket_.connect(ep);
  }

  // Sends bytes; false when the peer has closed or reset.
  bool send(const std::string& bytes) {
    boost::system::error_code ec;
    boost::asio::write(socket_, boost::asio::buffer(bytes), ec);
    return !ec;
  }

  // Reads one response (Content-Length framed, or until EOF without one).
  // nullopt on timeout, reset, or EOF before a complete head.
  std::optional<RawResponse> read_response() {
    std::size_t head_end;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    RawResponse r;
    r.head = buffer_.substr(0, head_end);
    buffer_.erase(0, head_end + 4);
    if (r.head.rfind("HTTP/1.", 0) != 0 || r.head.size() < 12) return std::nullopt;
    r.status = std::stoi(r.head.substr(9, 3));
    if (r.status == 100) return r;
    std::string cl = r.header("Content-Length");
    if (!cl.empty()) {
      const std::size_t n = std::stoull(cl);
      while (buffer_.size() < n) {
        if (!fill()) return std::nullopt;
      }
      r.body = buffer_.substr(0, n);
      buffer_.erase(0, n);
    } else {
      while (fill()) {
      }
      r.body.swap(buffer_);
    }
    return r;
  }

  // True when the server closed the connection (EOF or reset) before the
  // read timeout and without sending anything further.
  bool closed_by_peer() {
    char c;
    boost::system::error_code ec;
    if (!wait_readable()) return false;
    std::size_t n = socket_.read_some(boost::asio::buffer(&c, 1), ec);
    if (n > 0) return false;
    return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  }

  boost::asio::ip::tcp::socket& socket() { return socket_; }

 private:
  // Waits up to the read timeout for data (or EOF) to be readable.
  bool wait_readable() {
    pollfd p{socket_.native_handle(), POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(read_timeout_.count())) > 0;
  }

  bool fill() {
    char chunk[16384];
    boost::system::error_code ec;
    if (!wait_readable()) return false;
    std::size_t n = socket_.read_some(boost::asio::buffer(chunk), ec);
    if (n > 0) buffer_.append(chunk, n);
    return !ec && n > 0;
  }

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  std::chrono::milliseconds read_timeout_;
  std::string buffer_;
};

}  // namespace conveyor::http::test
