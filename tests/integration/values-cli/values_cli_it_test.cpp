// `conveyor values set FILE KEY=VALUE...` and `conveyor values get FILE KEY`:
// in-place, comment-preserving edits; exit 2 with a clear message on a
// missing path; nothing written on any error.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>

#include "fixtures.hpp"
#include "service_process.hpp"

namespace conveyor::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kValues = R"(# imprun production values
imprun-server:
  image:
    tag: "1.3.9"   # set by conveyor
  podAnnotations:
    app.kubernetes.io/version: 1.3.9

  replicaCount: 2
)";

struct Ran {
  int code = -1;
  std::string output;  // stdout and stderr together
};

Ran run_cli(const std::string& dir, const std::vector<std::string>& args) {
  static int n = 0;
  ServiceProcess p(bin_dir() + "/conveyor", args, dir + "/out-" + std::to_string(++n));
  Ran r;
  r.code = p.wait_exit(60s).value_or(-1);
  r.output = p.log();
  return r;
}

class ValuesCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir("values-cli");
    file_ = dir_ + "/values.yaml";
    write_file(file_, kValues);
    ::chmod(file_.c_str(), 0640);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_, file_;
};

TEST_F(ValuesCli, SetEditsInPlaceChangingOnlyThoseLines) {
  const auto r = run_cli(dir_, {"values", "set", file_, "imprun-server.image.tag=1.4.0",
                                "imprun-server.podAnnotations[\"app.kubernetes.io/version\"]=1.4.0",
                                "imprun-server.replicaCount=on"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(read_file(file_), R"(# imprun production values
imprun-server:
  image:
    tag: "1.4.0"   # set by conveyor
  podAnnotations:
    app.kubernetes.io/version: 1.4.0

  replicaCount: "on"
)");
  EXPECT_NE(r.output.find(file_ + ":4: imprun-server.image.tag: 1.3.9 -> 1.4.0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(file_ + ":8: imprun-server.replicaCount: 2 -> on"), std::string::npos) << r.output;
  struct stat st {};
  ASSERT_EQ(::stat(file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  // No temporary files left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1 + 1);  // values.yaml + out-N

  const auto again = run_cli(dir_, {"values", "set", file_, "imprun-server.image.tag=1.4.0"});
  EXPECT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("unchanged (1.4.0)"), std::string::npos) << again.output;
}

TEST_F(ValuesCli, MissingPathExits2AndWritesNothing) {
  const auto r = run_cli(dir_, {"values", "set", file_, "imprun-server.image.tag=1.4.0", "imprun-server.image.tagg=1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("'imprun-server.image.tagg': not found: 'imprun-server.image' has no key 'tagg'"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(read_file(file_), kValues);
  EXPECT_EQ(run_cli(dir_, {"values", "set", file_, "no-equals-sign"}).code, 2);
  EXPECT_EQ(run_cli(dir_, {"values", "set", file_}).code, 2);
  EXPECT_EQ(run_cli(dir_, {"values", "set", dir_ + "/missing.yaml", "a=b"}).code, 1);
}

TEST_F(ValuesCli, DryRunPrintsTheResult) {
  const auto r = run_cli(dir_, {"values", "set", "--dry-run", file_, "imprun-server.image.tag=2.0.0"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("    tag: \"2.0.0\"   # set by conveyor\n"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(file_), kValues);
}

TEST_F(ValuesCli, MultiDocumentFilesNeedADocumentIndex) {
  write_file(file_, "a: 1\n---\na: 1\n");
  const auto r = run_cli(dir_, {"values", "set", file_, "a=x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("holds 2 YAML documents"), std::string::npos) << r.output;
  const auto ok = run_cli(dir_, {"values", "set", "--document", "1", file_, "a=x"});
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_EQ(read_file(file_), "a: 1\n---\na: x\n");
}

TEST_F(ValuesCli, GetPrintsTheScalar) {
  const auto r = run_cli(dir_, {"values", "get", file_, "imprun-server.podAnnotations[\"app.kubernetes.io/version\"]"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.output, "1.3.9\n");
  const auto missing = run_cli(dir_, {"values", "get", file_, "nope"});
  EXPECT_EQ(missing.code, 2);
}

}  // namespace
}  // namespace conveyor::testing
