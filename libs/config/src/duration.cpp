#include <cstdint>
#include <string>

#include "conveyor/config/config.hpp"

namespace conveyor::config {

namespace {
// Longest count accepted: keeps "<count>d" in milliseconds far inside int64.
constexpr std::int64_t kMaxCount = 999'999'999;

Error bad_duration() {
  return make_error(Errc::invalid_argument,
                    "not a duration: expected \"500ms\", \"30s\", \"10m\", \"1h\", \"7d\" or whole seconds");
}
}  // namespace

Result<std::chrono::milliseconds> parse_duration(const nlohmann::json& value) {
  using std::chrono::milliseconds;
  if (value.is_number_unsigned() || value.is_number_integer()) {
    if (!value.is_number_unsigned() && value.get<std::int64_t>() < 0) return bad_duration();
    const auto seconds = value.get<std::uint64_t>();
    if (seconds > static_cast<std::uint64_t>(kMaxCount)) return bad_duration();
    return milliseconds(static_cast<std::int64_t>(seconds) * 1000);
  }
  if (!value.is_string()) return bad_duration();
  const std::string& s = value.get_ref<const std::string&>();
  std::size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0 || digits > 9) return bad_duration();
  const std::int64_t count = std::stoll(s.substr(0, digits));
  const std::string unit = s.substr(digits);
  std::int64_t factor = 0;
  if (unit == "ms") factor = 1;
  else if (unit == "s") factor = 1000;
  else if (unit == "m") factor = 60 * 1000;
  else if (unit == "h") factor = 3600 * 1000;
  else if (unit == "d") factor = 24 * 3600 * 1000;
  else return bad_duration();
  return milliseconds(count * factor);
}

}  // namespace conveyor::config
