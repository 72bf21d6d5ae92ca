#include "conveyor/store/redis.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <mutex>

namespace conveyor::store {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

Reply convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::array;
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = Reply::Type::nil;
  }
  return out;
}

}  // namespace

Result<RedisAddress> parse_redis_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (url.substr(0, scheme.size()) != scheme) {
    return make_error(Errc::invalid_argument, "redis url must start with redis:// (got '" + std::string(url) + "')");
  }
  std::string_view rest = url.substr(scheme.size());
  RedisAddress addr;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    auto db = rest.substr(slash + 1);
    if (!db.empty()) {
      auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), addr.db);
      if (ec != std::errc() || p != db.data() + db.size() || addr.db < 0) {
        return make_error(Errc::invalid_argument, "bad database number in redis url '" + std::string(url) + "'");
      }
    }
    rest = rest.substr(0, slash);
  }
  if (rest.find('@') != std::string_view::npos) {
    return make_error(Errc::invalid_argument, "redis url credentials are not supported; use a local or proxied Redis");
  }
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    addr.host = std::string(rest);
  } else {
    addr.host = std::string(rest.substr(0, colon));
    auto port = rest.substr(colon + 1);
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), addr.port);
    if (ec != std::errc() || p != port.data() + port.size() || addr.port <= 0 || addr.port > 65535) {
      return make_error(Errc::invalid_argument, "bad port in redis url '" + std::string(url) + "'");
    }
  }
  if (addr.host.empty()) return make_error(Errc::invalid_argument, "missing host in redis url '" + std::string(url) + "'");
  return addr;
}

struct Redis::Impl {
  struct Conn {
    std::mutex mu;
    redisContext* ctx = nullptr;
    ~Conn() {
      if (ctx) redisFree(ctx);
    }
  };
  RedisAddress addr;
  std::chrono::milliseconds timeout{};
  std::vector<std::unique_ptr<Conn>> pool;
  std::atomic<unsigned> next{0};

  // Connects `c` if needed; caller holds c.mu.
  Result<void> ensure(Conn& c) {
    if (c.ctx && c.ctx->err == 0) return {};
    if (c.ctx) {
      redisFree(c.ctx);
      c.ctx = nullptr;
    }
    const timeval tv = to_timeval(timeout);
    redisContext* ctx = redisConnectWithTimeout(addr.host.c_str(), addr.port, tv);
    if (!ctx || ctx->err) {
      std::string why = ctx ? ctx->errstr : "out of memory";
      if (ctx) redisFree(ctx);
      return make_error(Errc::unavailable,
                        "redis " + addr.host + ":" + std::to_string(addr.port) + " unreachable: " + why);
    }
    redisSetTimeout(ctx, tv);
    redisEnableKeepAlive(ctx);
    c.ctx = ctx;
    if (addr.db != 0) {
      auto db = std::to_string(addr.db);
      auto* r = static_cast<redisReply*>(redisCommand(ctx, "SELECT %s", db.c_str()));
      const bool ok = r && r->type != REDIS_REPLY_ERROR;
      if (r) freeReplyObject(r);
      if (!ok) return make_error(Errc::unavailable, "redis SELECT " + db + " failed");
    }
    return {};
  }

  // Writes every command into the connection's output buffer, then reads
  // the replies in order (one round trip); caller holds c.mu.
  Result<std::vector<Result<Reply>>> run_pipeline(Conn& c, const std::vector<std::vector<std::string>>& commands) {
    if (auto ok = ensure(c); !ok) return std::move(ok).error();
    std::vector<const char*> args;
    std::vector<size_t> lens;
    for (const auto& argv : commands) {
      args.clear();
      lens.clear();
      for (const auto& a : argv) {
        args.push_back(a.data());
        lens.push_back(a.size());
      }
      if (redisAppendCommandArgv(c.ctx, static_cast<int>(args.size()), args.data(), lens.data()) != REDIS_OK) {
        return drop(c, "redis pipeline write failed: ");
      }
    }
    std::vector<Result<Reply>> out;
    out.reserve(commands.size());
    for (size_t i = 0; i < commands.size(); ++i) {
      void* raw = nullptr;
      if (redisGetReply(c.ctx, &raw) != REDIS_OK || raw == nullptr) return drop(c, "redis pipeline failed: ");
      auto* r = static_cast<redisReply*>(raw);
      if (r->type == REDIS_REPLY_ERROR) {
        out.push_back(make_error(Errc::invalid_argument, "redis: " + std::string(r->str, r->len)));
      } else {
        out.push_back(convert(r));
      }
      freeReplyObject(r);
    }
    return out;
  }

  // Closes a connection that failed mid-exchange (its replies would be out
  // of step); the next call reconnects.
  Error drop(Conn& c, const std::string& what) {
    std::string why = c.ctx->errstr;
    redisFree(c.ctx);
    c.ctx = nullptr;
    return make_error(Errc::unavailable, what + why);
  }

  Result<Reply> run(Conn& c, const std::vector<std::string_view>& argv) {
    if (auto ok = ensure(c); !ok) return std::move(ok).error();
    std::vector<const char*> args;
    std::vector<size_t> lens;
    args.reserve(argv.size());
    lens.reserve(argv.size());
    for (auto a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c.ctx, static_cast<int>(args.size()), args.data(), lens.data()));
    if (!r) {
      std::string why = c.ctx->errstr;
      redisFree(c.ctx);
      c.ctx = nullptr;
      return make_error(Errc::unavailable, "redis command failed: " + why);
    }
    if (r->type == REDIS_REPLY_ERROR) {
      std::string msg(r->str, r->len);
      freeReplyObject(r);
      return make_error(Errc::invalid_argument, "redis: " + msg);
    }
    Reply out = convert(r);
    freeReplyObject(r);
    return out;
  }
};

Redis::Redis(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Redis::~Redis() = default;

Result<std::shared_ptr<Redis>> Redis::connect(const RedisOptions& options) {
  auto addr = parse_redis_url(options.url);
  if (!addr) return std::move(addr).error();
  auto impl = std::make_unique<Impl>();
  impl->addr = *addr;
  impl->timeout = options.timeout;
  const int n = std::clamp(options.connections, 1, 64);
  for (int i = 0; i < n; ++i) impl->pool.push_back(std::make_unique<Impl::Conn>());
  {
    std::lock_guard lock(impl->pool[0]->mu);
    if (auto ok = impl->ensure(*impl->pool[0]); !ok) return std::move(ok).error();
  }
  return std::shared_ptr<Redis>(new Redis(std::move(impl)));
}

Result<Reply> Redis::command(const std::vector<std::string_view>& argv) {
  auto& pool = impl_->pool;
  // Take any idle connection; if all are busy, wait on one chosen round-robin.
  for (auto& c : pool) {
    std::unique_lock lock(c->mu, std::try_to_lock);
    if (lock.owns_lock()) return impl_->run(*c, argv);
  }
  auto& c = *pool[impl_->next.fetch_add(1, std::memory_order_relaxed) % pool.size()];
  std::lock_guard lock(c.mu);
  return impl_->run(c, argv);
}

Result<std::vector<Result<Reply>>> Redis::pipeline(const std::vector<std::vector<std::string>>& commands) {
  if (commands.empty()) return std::vector<Result<Reply>>{};
  auto& c = *impl_->pool[impl_->next.fetch_add(1, std::memory_order_relaxed) % impl_->pool.size()];
  std::lock_guard lock(c.mu);
  return impl_->run_pipeline(c, commands);
}

Result<void> Redis::ping() {
  auto r = command({"PING"});
  if (!r) return std::move(r).error();
  if (r->str != "PONG") return make_error(Errc::unavailable, "redis PING answered '" + r->str + "'");
  return {};
}

}  // namespace conveyor::store
