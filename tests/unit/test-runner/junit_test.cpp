#include "junit.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace conveyor::test_runner {
namespace {

TEST(JUnit, TestsuitesRootWithFailuresErrorsAndSkips) {
  const auto r = parse_junit(R"(<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="5" failures="1" errors="1">
  <testsuite name="math" tests="3">
    <testcase classname="math.Add" name="adds"/>
    <testcase classname="math.Add" name="overflows"><failure message="expected 0">trace</failure></testcase>
    <testcase classname="math.Div" name="by zero"><skipped/></testcase>
  </testsuite>
  <testsuite name="io">
    <testcase classname="io.File" name="reads"><error type="IOError">boom</error></testcase>
    <testcase name="bare"/>
  </testsuite>
</testsuites>)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->tests, 5);
  EXPECT_EQ(r->failures, 1);
  EXPECT_EQ(r->errors, 1);
  EXPECT_EQ(r->skipped, 1);
  EXPECT_EQ(r->failing, (std::vector<std::string>{"math.Add.overflows", "io.File.reads"}));
}

TEST(JUnit, BareTestsuiteRoot) {
  const auto r = parse_junit(R"(<testsuite name="pytest" tests="2">
  <testcase classname="tests.test_api" name="test_ok" time="0.01"/>
  <testcase classname="tests.test_api" name="test_bad"><failure>assert 1 == 2</failure></testcase>
</testsuite>)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->tests, 2);
  EXPECT_EQ(r->failures, 1);
  EXPECT_EQ(r->failing, (std::vector<std::string>{"tests.test_api.test_bad"}));
}

TEST(JUnit, NestedSuitesCountEachCaseOnce) {
  const auto r = parse_junit(R"(<testsuites>
  <testsuite name="outer" tests="99" failures="99">
    <testcase name="top"/>
    <testsuite name="inner">
      <testcase classname="a" name="x"><failure/></testcase>
      <testsuite name="innermost"><testcase classname="b" name="y"><skipped/></testcase></testsuite>
    </testsuite>
  </testsuite>
</testsuites>)");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tests, 3);  // the outer totals are ignored: the cases are counted
  EXPECT_EQ(r->failures, 1);
  EXPECT_EQ(r->skipped, 1);
  EXPECT_EQ(r->failing, (std::vector<std::string>{"a.x"}));
}

TEST(JUnit, TotalsOnlySuitesUseAttributes) {
  const auto r = parse_junit(R"(<testsuites><testsuite name="t" tests="7" failures="2" errors="1" skipped="1" disabled="1"/></testsuites>)");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tests, 7);
  EXPECT_EQ(r->failures, 2);
  EXPECT_EQ(r->errors, 1);
  EXPECT_EQ(r->skipped, 2);
  EXPECT_TRUE(r->failing.empty());
  const auto empty = parse_junit("<testsuites/>");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->tests, 0);
}

TEST(JUnit, MalformedInputIsAnErrorNotACrash) {
  for (const std::string& bad : {std::string("<testsuite><testcase name='x'>"), std::string("not xml at all"),
                                std::string(""), std::string("\xff\xfe\x00\x01garbage", 8),
                                std::string("<testsuite><testcase></testsuite>")}) {
    const auto r = parse_junit(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    EXPECT_NE(r.error().message.find("XML"), std::string::npos) << r.error().message;
  }
  const auto wrong_root = parse_junit("<html><body/></html>");
  ASSERT_FALSE(wrong_root.ok());
  EXPECT_NE(wrong_root.error().message.find("<html>"), std::string::npos);
  // Entities are not expanded from a DTD (no billion laughs).
  const auto dtd = parse_junit(R"(<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>
<testsuite><testcase name="&b;"/></testsuite>)");
  ASSERT_TRUE(dtd.ok());
  EXPECT_EQ(dtd->tests, 1);
}

TEST(JUnit, FindReportsByGlobInsideTheCheckout) {
  namespace fs = std::filesystem;
  std::string tmpl = "/tmp/conveyor-junit-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const fs::path root = tmpl;
  fs::create_directories(root / "server/reports/sub");
  fs::create_directories(root / ".git/reports");
  for (const auto& f : {"server/reports/a.xml", "server/reports/b.txt", "server/reports/sub/c.xml", "top.xml",
                        ".git/reports/x.xml"}) {
    std::ofstream(root / f) << "<testsuite/>";
  }
  fs::create_symlink("/etc/hostname", root / "server/reports/escape.xml");
  auto rel = [&](const std::vector<fs::path>& v) {
    std::vector<std::string> out;
    for (const auto& p : v) out.push_back(p.lexically_relative(fs::canonical(root)).generic_string());
    return out;
  };
  EXPECT_EQ(rel(find_reports(root, {"server/reports/*.xml"})), (std::vector<std::string>{"server/reports/a.xml"}));
  EXPECT_EQ(rel(find_reports(root, {"**/*.xml"})),
            (std::vector<std::string>{"server/reports/a.xml", "server/reports/sub/c.xml", "top.xml"}));
  EXPECT_EQ(rel(find_reports(root, {"top.xml", "top.xml"})), (std::vector<std::string>{"top.xml"}));
  EXPECT_TRUE(find_reports(root, {"missing/*.xml"}).empty());
  fs::remove_all(root);
}

}  // namespace
}  // namespace conveyor::test_runner
