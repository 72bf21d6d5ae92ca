#include "conveyor/release/next_version.hpp"

#include <algorithm>
#include <limits>

namespace conveyor::release {
namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<TaggedVersion> versions_of(const std::vector<std::string>& tags, const std::string& prefix) {
  std::vector<TaggedVersion> out;
  for (const std::string& tag : tags) {
    if (tag.compare(0, prefix.size(), prefix) != 0) continue;
    auto v = parse_semver(std::string_view(tag).substr(prefix.size()));
    if (v) out.push_back(TaggedVersion{tag, std::move(v.value())});
  }
  return out;
}

Error overflow() { return make_error(Errc::invalid_argument, "version number overflow"); }

// semver.inc(version, "prerelease") for a version that has a prerelease:
// the last numeric identifier + 1, or ".0" appended when there is none.
Result<SemVer> inc_prerelease(SemVer v) {
  v.build.clear();
  for (std::size_t i = v.prerelease.size(); i-- > 0;) {
    std::string& id = v.prerelease[i];
    if (!all_digits(id)) continue;
    std::string next = id;
    std::size_t k = next.size();
    while (k > 0 && next[k - 1] == '9') next[--k] = '0';
    if (k == 0) {
      next.insert(next.begin(), '1');
    } else {
      ++next[k - 1];
    }
    if (next.size() > 16) return overflow();  // node-semver: MAX_SAFE_INTEGER
    id = next;
    return v;
  }
  v.prerelease.emplace_back("0");
  return v;
}

}  // namespace

Result<SemVer> bump(const SemVer& version, ReleaseType type) {
  SemVer v = version;
  v.build.clear();
  const bool pre = !v.prerelease.empty();
  v.prerelease.clear();
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  switch (type) {
    case ReleaseType::none:
      return make_error(Errc::invalid_argument, "no release type to bump by");
    case ReleaseType::major:
      if (!(pre && v.minor == 0 && v.patch == 0)) {
        if (v.major == kMax) return overflow();
        ++v.major;
      }
      v.minor = v.patch = 0;
      break;
    case ReleaseType::minor:
      if (!(pre && v.patch == 0)) {
        if (v.minor == kMax) return overflow();
        ++v.minor;
      }
      v.patch = 0;
      break;
    case ReleaseType::patch:
      if (!pre) {
        if (v.patch == kMax) return overflow();
        ++v.patch;
      }
      break;
  }
  return v;
}

std::optional<TaggedVersion> last_release(const std::vector<std::string>& tags, const std::string& tag_prefix,
                                          const std::string& prerelease) {
  std::optional<TaggedVersion> best;
  for (TaggedVersion& t : versions_of(tags, tag_prefix)) {
    const bool eligible =
        t.version.prerelease.empty() ||
        (!prerelease.empty() &&
         std::find(t.version.prerelease.begin(), t.version.prerelease.end(), prerelease) != t.version.prerelease.end());
    if (!eligible) continue;
    if (!best || compare(best->version, t.version) < 0) best = std::move(t);
  }
  return best;
}

Result<std::optional<SemVer>> next_version(const VersionRequest& request) {
  const std::string& channel = request.prerelease;
  if (!channel.empty()) {
    if (all_digits(channel) ||
        !std::all_of(channel.begin(), channel.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
        })) {
      return make_error(Errc::invalid_argument, "prerelease name is not a SemVer identifier: " + channel);
    }
  }
  if (request.release == ReleaseType::none) return std::optional<SemVer>{};

  const auto with_channel = [&channel](SemVer v) {
    v.prerelease = {channel, "1"};
    return v;
  };
  const std::optional<TaggedVersion> last = last_release(request.tags, request.tag_prefix, channel);
  if (!last) {
    SemVer first{1, 0, 0, {}, {}};
    return std::optional<SemVer>{channel.empty() ? first : with_channel(first)};
  }
  if (channel.empty()) {
    auto v = bump(last->version, request.release);
    if (!v) return std::move(v).error();
    return std::optional<SemVer>{std::move(v.value())};
  }
  if (last->version.prerelease.empty()) {
    auto v = bump(last->version, request.release);
    if (!v) return std::move(v).error();
    return std::optional<SemVer>{with_channel(std::move(v.value()))};
  }
  // The last release is a prerelease of this channel.
  auto incremented = inc_prerelease(last->version);
  if (!incremented) return std::move(incremented).error();
  SemVer latest = last->version;
  for (const TaggedVersion& t : versions_of(request.tags, request.tag_prefix)) {
    if (compare(latest, t.version) < 0) latest = t.version;
  }
  auto bumped = bump(latest, request.release);
  if (!bumped) return std::move(bumped).error();
  SemVer restarted = with_channel(std::move(bumped.value()));
  SemVer next = compare(incremented.value(), restarted) > 0 ? std::move(incremented.value()) : std::move(restarted);
  return std::optional<SemVer>{std::move(next)};
}

}  // namespace conveyor::release
