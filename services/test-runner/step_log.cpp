#include "step_log.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace conveyor::test_runner {

Result<std::unique_ptr<StepLog>> StepLog::open(const std::string& path, std::vector<std::string> secrets,
                                               std::uint64_t max_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return make_error(Errc::unavailable, "cannot create the log directory of " + path + ": " + ec.message());
  std::FILE* f = std::fopen(path.c_str(), "wbe");
  if (!f) return make_error(Errc::unavailable, "cannot create log file " + path + ": " + std::strerror(errno));
  return std::unique_ptr<StepLog>(new StepLog(path, f, std::move(secrets), max_bytes));
}

StepLog::StepLog(std::string path, std::FILE* file, std::vector<std::string> secrets, std::uint64_t max_bytes)
    : path_(std::move(path)), file_(file), masker_(std::move(secrets)), max_bytes_(max_bytes) {}

StepLog::~StepLog() { close(); }

void StepLog::append(std::string_view masked) {
  if (masked.empty()) return;
  tail_.append(masked);
  if (tail_.size() > 4 * kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
  if (!file_) return;
  const std::uint64_t room = max_bytes_ > written_ ? max_bytes_ - written_ : 0;
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(room, masked.size()));
  if (n > 0) {
    std::fwrite(masked.data(), 1, n, file_);
    written_ += n;
  }
  dropped_bytes_ += masked.size() - n;
}

void StepLog::write(std::string_view chunk) {
  output_bytes_ += chunk.size();
  append(masker_.feed(chunk));
}

void StepLog::note(std::string_view line) {
  append(masker_.finish());
  std::string text;
  if (!tail_.empty() && tail_.back() != '\n') text += '\n';
  text += "[conveyor] ";
  text += line;
  text += '\n';
  // Notes are always written, even past the cap, so the file says why it ends.
  tail_.append(text);
  if (file_) {
    if (dropped_bytes_ > 0 && !dropped_noted_) {
      dropped_noted_ = true;
      const std::string dropped =
          "[conveyor] log truncated: " + std::to_string(dropped_bytes_) + " more bytes of output not written\n";
      std::fwrite(dropped.data(), 1, dropped.size(), file_);
    }
    std::fwrite(text.data(), 1, text.size(), file_);
  }
}

void StepLog::close() {
  if (!file_) return;
  append(masker_.finish());
  std::fclose(file_);
  file_ = nullptr;
}

std::string StepLog::tail() const { return to_valid_utf8(utf8_tail(tail_, kTailBytes)); }

}  // namespace conveyor::test_runner
