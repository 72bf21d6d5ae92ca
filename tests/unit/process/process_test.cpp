// conveyor::process against real programs (bash, coreutils): exit codes,
// environment, working directory, stdin, streaming of large and binary
// output, timeouts that end the whole process group, leftovers, stop.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "conveyor/process/process.hpp"

namespace conveyor::process {
namespace {

using namespace std::chrono_literals;

Options bash(const std::string& script) {
  Options o;
  o.argv = {"bash", "-c", script};
  o.env = inherit({"PATH"});
  return o;
}

// Running (not a zombie waiting for init to reap it).
bool process_running(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  const char state = stat[close + 2];
  return state != 'Z' && state != 'X';
}

bool alive(pid_t pid) { return process_running(pid); }

// Waits up to `timeout` for a file to hold a pid, returns it (0 if none).
pid_t read_pid(const std::string& file, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(file);
    pid_t pid = 0;
    if (in >> pid && pid > 0) return pid;
    std::this_thread::sleep_for(10ms);
  }
  return 0;
}

std::string temp_dir() {
  std::string tmpl = "/tmp/conveyor-process-test-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
  return tmpl;
}

TEST(Process, ExitCodesAndSignals) {
  auto ok = capture(bash("exit 0"));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_TRUE(ok->exit.ok());
  EXPECT_EQ(ok->exit.exit_code, 0);

  auto three = capture(bash("exit 3"));
  ASSERT_TRUE(three.ok());
  EXPECT_FALSE(three->exit.ok());
  EXPECT_EQ(three->exit.exit_code, 3);
  EXPECT_EQ(three->exit.describe(), "exit code 3");

  auto killed = capture(bash("kill -KILL $$"));
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(killed->exit.signal, SIGKILL);
  EXPECT_EQ(killed->exit.exit_code, -1);
  EXPECT_EQ(killed->exit.describe(), "killed by signal 9 (SIGKILL)");
}

TEST(Process, StdoutAndStderrSeparateOrMerged) {
  auto sep = capture(bash("echo out; echo err >&2"));
  ASSERT_TRUE(sep.ok());
  EXPECT_EQ(sep->out, "out\n");
  EXPECT_EQ(sep->err, "err\n");

  std::string merged;
  Options o = bash("echo one; echo two >&2; echo three");
  o.on_stdout = [&](std::string_view c) { merged.append(c); };
  auto r = run(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(merged, "one\ntwo\nthree\n");
  EXPECT_EQ(r->stdout_bytes, merged.size());
}

TEST(Process, EnvironmentIsExactlyWhatWasGiven) {
  ::setenv("CONVEYOR_PROCESS_TEST_SECRET", "do-not-inherit", 1);
  Options o = bash("env");
  o.env["GREETING"] = "hello world; $(rm -rf /)";
  auto r = capture(o);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->out.find("GREETING=hello world; $(rm -rf /)\n"), std::string::npos) << r->out;
  EXPECT_EQ(r->out.find("CONVEYOR_PROCESS_TEST_SECRET"), std::string::npos);
  EXPECT_EQ(inherit({"CONVEYOR_PROCESS_TEST_SECRET", "NOT_SET_ANYWHERE_XYZ"}).size(), 1u);
}

TEST(Process, WorkingDirectoryAndStdin) {
  const std::string dir = temp_dir();
  Options o = bash("pwd; cat");
  o.cwd = dir;
  o.stdin_data = std::string("from stdin\n");
  auto r = capture(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, dir + "\nfrom stdin\n");

  // Without stdin data, stdin is /dev/null: cat ends at once.
  auto empty = capture(bash("cat; echo done"));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->out, "done\n");

  // stdin larger than a pipe buffer, to a reader that stops early: no SIGPIPE here.
  Options early = bash("head -c 10 >/dev/null");
  early.stdin_data = std::string(1 << 20, 'x');
  auto e = capture(early);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->exit.ok());
  ::rmdir(dir.c_str());
}

TEST(Process, ErrorsForWhatCannotRun) {
  Options missing;
  missing.argv = {"conveyor-no-such-program"};
  missing.env = inherit({"PATH"});
  auto r = run(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::not_found);

  Options bad_cwd = bash("true");
  bad_cwd.cwd = "/nonexistent/conveyor";
  auto c = run(bad_cwd);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::not_found);

  EXPECT_EQ(run(Options{}).error().code, Errc::invalid_argument);
  Options nul = bash("true");
  nul.env["X"] = std::string("a\0b", 3);
  EXPECT_EQ(run(nul).error().code, Errc::invalid_argument);
}

TEST(Process, LargeAndBinaryOutputIsStreamedWhole) {
  // 20 MiB of every byte value, in chunks; nothing lost, nothing blocked.
  std::size_t total = 0, chunks = 0;
  std::array<std::size_t, 256> histogram{};
  Options o = bash("for i in $(seq 1 80); do head -c 262144 /dev/urandom; done; printf '\\x00\\xff\\xfe'");
  o.on_stdout = [&](std::string_view c) {
    total += c.size();
    ++chunks;
    for (unsigned char b : c) ++histogram[b];
  };
  auto r = run(o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok());
  EXPECT_EQ(total, 80u * 262144u + 3u);
  EXPECT_GT(chunks, 1u);
  EXPECT_GT(histogram[0], 0u);
  EXPECT_GT(histogram[0xff], 0u);

  // capture() bounds what it keeps but reads everything.
  auto bounded = capture(bash("head -c 3000000 /dev/zero"), 1000);
  ASSERT_TRUE(bounded.ok());
  EXPECT_EQ(bounded->out.size(), 1000u);
  EXPECT_TRUE(bounded->out_truncated);
  EXPECT_EQ(bounded->exit.stdout_bytes, 3000000u);
}

TEST(Process, TimeoutKillsTheWholeGroupIncludingGrandchildren) {
  const std::string dir = temp_dir();
  // The grandchild ignores SIGTERM and keeps the output pipe open.
  Options o = bash("(trap '' TERM; echo $BASHPID > " + dir + "/gc; sleep 60) & echo $! > " + dir +
                   "/child; echo started; sleep 60");
  o.timeout = 500ms;
  o.kill_grace = 300ms;
  std::string out;
  o.on_stdout = [&](std::string_view c) { out.append(c); };
  const auto start = std::chrono::steady_clock::now();
  auto r = run(o);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->ok());
  EXPECT_EQ(r->describe().rfind("timed out after", 0), 0u) << r->describe();
  EXPECT_EQ(out, "started\n");
  EXPECT_LT(took, 5s);
  const pid_t gc = read_pid(dir + "/gc");
  ASSERT_GT(gc, 0);
  EXPECT_FALSE(alive(gc)) << "grandchild " << gc << " survived";
  std::filesystem::remove_all(dir);
}

TEST(Process, LeftoversAreEndedWhenTheLeaderExits) {
  const std::string dir = temp_dir();
  Options o = bash("sleep 60 & echo $! > " + dir + "/bg; echo bye");
  o.kill_grace = 300ms;
  const auto start = std::chrono::steady_clock::now();
  auto r = capture(o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->exit.ok());
  EXPECT_EQ(r->out, "bye\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  const pid_t bg = read_pid(dir + "/bg");
  ASSERT_GT(bg, 0);
  EXPECT_FALSE(alive(bg));

  // kill_leftovers=false leaves them be and stops reading after `drain`.
  Options keep = bash("sleep 30 & echo $! > " + dir + "/bg2; echo bye");
  keep.kill_leftovers = false;
  keep.drain = 200ms;
  auto k = capture(keep);
  ASSERT_TRUE(k.ok());
  const pid_t bg2 = read_pid(dir + "/bg2");
  ASSERT_GT(bg2, 0);
  EXPECT_TRUE(alive(bg2));
  ::kill(bg2, SIGKILL);
  std::filesystem::remove_all(dir);
}

TEST(Process, OrphanedZombiesDoNotDelayTheEnd) {
  // git's transports leave exited grandchildren for init to reap; a zombie
  // holds nothing, so run() must not wait for init.
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto r = capture(bash("(sleep 0.05 &); (true &); exit 0"));
    ASSERT_TRUE(r.ok());
    EXPECT_LT(std::chrono::steady_clock::now() - start, 900ms);
  }
}

TEST(Process, StopTokenEndsTheChild) {
  std::stop_source stop;
  Options o = bash("sleep 60");
  o.stop = stop.get_token();
  o.kill_grace = 300ms;
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop.request_stop();
  });
  auto r = run(o);
  stopper.join();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->stopped);
  EXPECT_EQ(r->signal, SIGTERM);
  EXPECT_EQ(r->describe(), "stopped");
}

TEST(Process, ConcurrentRunsDoNotMixOutput) {
  std::vector<std::thread> threads;
  std::vector<std::string> outs(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([i, &outs] {
      auto r = capture(bash("for n in $(seq 1 2000); do echo " + std::to_string(i) + "; done"));
      if (r.ok()) outs[i] = r->out;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 4; ++i) {
    std::string expected;
    for (int n = 0; n < 2000; ++n) expected += std::to_string(i) + "\n";
    EXPECT_EQ(outs[i], expected);
  }
}

}  // namespace
}  // namespace conveyor::process
