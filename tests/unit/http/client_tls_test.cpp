// libs/http client over https: against `openssl s_server` with certificates
// made for the test (the trusted ones through SSL_CERT_FILE). Skipped where
// the openssl command is missing.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <thread>

#include "conveyor/http/client.hpp"
#include "service_process.hpp"

namespace conveyor::http {
namespace {

using namespace std::chrono_literals;

bool run(const std::string& command) { return std::system(command.c_str()) == 0; }

// A self-signed certificate for `name` (DNS and, for localhost, 127.0.0.1).
bool make_cert(const std::string& dir, const std::string& tag, const std::string& name) {
  std::string san = "DNS:" + name;
  if (name == "localhost") san += ",IP:127.0.0.1";
  return run("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=" + name + " -addext subjectAltName=" +
             san + " -keyout " + dir + "/" + tag + ".key -out " + dir + "/" + tag + ".pem 2>/dev/null");
}

// `openssl s_server -www` (answers GET with a 200 page) on an ephemeral port.
class TlsServer {
 public:
  TlsServer(const std::string& dir, const std::string& tag)
      : process_("/usr/bin/openssl",
                 {"s_server", "-accept", "127.0.0.1:0", "-cert", dir + "/" + tag + ".pem", "-key",
                  dir + "/" + tag + ".key", "-www"},
                 dir + "/" + tag + ".log") {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    const std::regex accept(R"(ACCEPT 127\.0\.0\.1:(\d+))");
    while (std::chrono::steady_clock::now() < deadline && port_ == 0) {
      std::ifstream in(dir + "/" + tag + ".log");
      for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (std::regex_search(line, m, accept)) port_ = std::stoi(m[1]);
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  int port() const { return port_; }

 private:
  testing::ServiceProcess process_;
  int port_ = 0;
};

class ClientTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::access("/usr/bin/openssl", X_OK) != 0) return;
    dir_ = testing::temp_dir("http-tls");
    ok_ = make_cert(dir_, "trusted", "localhost") && make_cert(dir_, "other", "other.example") &&
          make_cert(dir_, "untrusted", "localhost") &&
          run("cat " + dir_ + "/trusted.pem " + dir_ + "/other.pem > " + dir_ + "/ca.pem");
    // Read by OpenSSL when the client's TLS context is made (first https request).
    ::setenv("SSL_CERT_FILE", (dir_ + "/ca.pem").c_str(), 1);
  }
  void SetUp() override {
    if (!ok_) GTEST_SKIP() << "openssl command not available";
  }
  static inline std::string dir_;
  static inline bool ok_ = false;
};

TEST_F(ClientTlsTest, VerifiedPeerAnswers) {
  TlsServer server(dir_, "trusted");
  ASSERT_NE(server.port(), 0);
  for (const std::string host : {"localhost", "127.0.0.1"}) {
    auto r = request("GET", "https://" + host + ":" + std::to_string(server.port()) + "/", {}, "", 10s);
    ASSERT_TRUE(r.ok()) << host << ": " << r.error().message;
    EXPECT_EQ(r->status, 200) << host;
    EXPECT_NE(r->body.find("s_server"), std::string::npos) << host;
  }
}

TEST_F(ClientTlsTest, ACertificateForAnotherNameIsRefused) {
  TlsServer server(dir_, "other");
  ASSERT_NE(server.port(), 0);
  auto r = request("GET", "https://localhost:" + std::to_string(server.port()) + "/", {}, "", 10s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_NE(r.error().message.find("TLS handshake"), std::string::npos) << r.error().message;
}

TEST_F(ClientTlsTest, AnUntrustedCertificateIsRefused) {
  TlsServer server(dir_, "untrusted");
  ASSERT_NE(server.port(), 0);
  auto r = request("GET", "https://localhost:" + std::to_string(server.port()) + "/", {}, "", 10s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_NE(r.error().message.find("https://localhost:"), std::string::npos) << r.error().message;
}

TEST_F(ClientTlsTest, PlainHttpToATlsPortFailsWithinTheTimeout) {
  TlsServer server(dir_, "trusted");
  ASSERT_NE(server.port(), 0);
  auto r = request("GET", "http://127.0.0.1:" + std::to_string(server.port()) + "/", {}, "", 2s);
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace conveyor::http
