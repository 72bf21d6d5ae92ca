// Test helper: a local HTTP server (conveyor::http::Server on port 0) that
// stands in for Slack, Discord, GitHub or any webhook receiver: it records
// every request and answers each path with scripted responses. Header-only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "conveyor/http/server.hpp"

namespace conveyor::testing {

class RecordingServer {
 public:
  struct Answer {
    Answer(int status = 200, std::string body = "ok", http::Headers headers = {},
           std::string content_type = "text/plain; charset=utf-8",
           std::chrono::milliseconds delay = std::chrono::milliseconds(0))
        : status(status), body(std::move(body)), headers(std::move(headers)),
          content_type(std::move(content_type)), delay(delay) {}
    int status;
    std::string body;
    http::Headers headers;
    std::string content_type;
    std::chrono::milliseconds delay;  // answer this much later (a slow endpoint)
  };

  RecordingServer() : server_(http::ServerOptions{}) {}
  ~RecordingServer() {
    std::vector<std::thread> late;
    {
      std::lock_guard lock(mu_);
      late.swap(late_);
    }
    for (auto& t : late) t.join();
    server_.stop();
  }
  RecordingServer(const RecordingServer&) = delete;
  RecordingServer& operator=(const RecordingServer&) = delete;

  // Answers `method path` with `answers` in turn; the last one repeats.
  // Call before start().
  void on(const std::string& method, const std::string& path, std::vector<Answer> answers) {
    if (answers.empty()) answers.push_back(Answer{});
    server_.route(method, path, [this, path, answers](http::Request&& req, http::Reply reply) {
      Answer answer;
      {
        std::lock_guard lock(mu_);
        const std::size_t n = served_[path]++;
        answer = answers[std::min(n, answers.size() - 1)];
        requests_.push_back(std::move(req));
      }
      cv_.notify_all();
      http::Response res;
      res.status = answer.status;
      res.body = answer.body;
      res.content_type = answer.content_type;
      res.headers = answer.headers;
      if (answer.delay.count() == 0) {
        reply(std::move(res));
        return;
      }
      std::lock_guard lock(mu_);
      late_.emplace_back([reply, res, delay = answer.delay]() mutable {
        std::this_thread::sleep_for(delay);
        reply(std::move(res));
      });
    });
  }

  void start() {
    if (auto ok = server_.start(); !ok) throw std::runtime_error("recording server: " + ok.error().message);
  }
  void stop() { server_.stop(); }

  std::string url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + path;
  }

  // Requests received so far (for one path, or all when `path` is empty), in order.
  std::vector<http::Request> requests(const std::string& path = "") const {
    std::lock_guard lock(mu_);
    std::vector<http::Request> out;
    for (const auto& r : requests_) {
      if (path.empty() || r.path == path) out.push_back(r);
    }
    return out;
  }

  // Waits until `done(requests())` holds or `timeout` passes; returns it.
  bool wait_for(const std::function<bool(const std::vector<http::Request>&)>& done, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done(requests_); });
  }

 private:
  http::Server server_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::size_t> served_;
  std::vector<http::Request> requests_;
  std::vector<std::thread> late_;  // delayed answers, joined before the server stops
};

}  // namespace conveyor::testing
