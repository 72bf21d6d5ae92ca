#include "kafka_util.hpp"

namespace conveyor::bus::detail {

Result<std::unique_ptr<RdKafka::Conf>> make_conf(const std::map<std::string, std::string>& props) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
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
