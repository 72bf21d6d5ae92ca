#include "kafka_util.hpp"

#include "conveyor/logging/log.hpp"

namespace conveyor::bus::detail {
namespace {

// Routes librdkafka's own log lines and errors into conveyor's JSON logs
// (otherwise librdkafka prints its "%3|..." format on stderr).
class JsonLogEvents : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_LOG: {
        const int severity = static_cast<int>(event.severity());
        const std::string facility = event.fac();
        if (severity <= RdKafka::Event::EVENT_SEVERITY_ERROR) {
          logger_.error(event.str(), {{"facility", facility}});
        } else if (severity <= RdKafka::Event::EVENT_SEVERITY_WARNING) {
          logger_.warn(event.str(), {{"facility", facility}});
        } else {
          logger_.debug(event.str(), {{"facility", facility}});
        }
        break;
      }
      case RdKafka::Event::EVENT_ERROR: {
        // Transient broker-down errors repeat every reconnect; they are
        // surfaced through delivery reports and /readyz, so log at warn.
        const std::string code = RdKafka::err2str(event.err());
        logger_.warn(event.str(), {{"error", code}});
        break;
      }
      default:
        break;
    }
  }

 private:
  log::Logger logger_{"kafka"};
};

JsonLogEvents& json_log_events() {
  static JsonLogEvents instance;
  return instance;
}

}  // namespace

Result<std::unique_ptr<RdKafka::Conf>> make_conf(const std::map<std::string, std::string>& props) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  if (conf->set("event_cb", &json_log_events(), err) != RdKafka::Conf::CONF_OK) {
    return make_error(Errc::internal, "kafka event_cb: " + err);
  }
  for (const auto& [k, v] : props) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      return make_error(Errc::invalid_argument, "kafka property '" + k + "' refused: " + err);
    }
  }
  return conf;
}

Result<void> ping(RdKafka::Handle& handle, std::chrono::milliseconds timeout) {
  RdKafka::Metadata* md = nullptr;
  const auto rc = handle.metadata(true, nullptr, &md, static_cast<int>(timeout.count()));
  std::unique_ptr<RdKafka::Metadata> owned(md);
  if (rc != RdKafka::ERR_NO_ERROR) return make_error(Errc::unavailable, "kafka unreachable: " + RdKafka::err2str(rc));
  if (!md || md->brokers()->empty()) return make_error(Errc::unavailable, "kafka: no brokers in metadata");
  return {};
}

events::KafkaRecord to_record(RdKafka::Message& message) {
  events::KafkaRecord r;
  r.topic = message.topic_name();
  if (message.key()) r.key = *message.key();
  r.value.assign(static_cast<const char*>(message.payload()), message.len());
  if (const RdKafka::Headers* h = message.headers()) {
    for (const auto& header : h->get_all()) {
      r.headers.emplace_back(header.key(),
                             std::string(static_cast<const char*>(header.value()), header.value_size()));
    }
  }
  return r;
}

}  // namespace conveyor::bus::detail
