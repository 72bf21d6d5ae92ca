// charts/conveyor: `helm lint --strict` and the rendered manifests
// (`helm template`) checked for what the chart promises: probes and resource
// requests on every Deployment, image tags defaulting to the appVersion,
// secrets only as Secret references, namespaced RBAC, HPA off by default, a
// conveyor.yaml that the services' own config loader accepts.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "conveyor/config/config.hpp"
#include "conveyor/process/process.hpp"
#include "fixtures.hpp"

namespace conveyor {
namespace {

namespace fs = std::filesystem;

// $CONVEYOR_HELM, else ~/.cache/conveyor/bin/helm (scripts/setup), else "".
std::string helm_path() {
  if (const char* h = std::getenv("CONVEYOR_HELM"); h != nullptr && *h != '\0') return h;
  const char* home = std::getenv("HOME");
  const fs::path p = fs::path(home != nullptr ? home : "/root") / ".cache/conveyor/bin/helm";
  std::error_code ec;
  return fs::exists(p, ec) ? p.string() : "";
}

std::string chart_dir() { return testing::source_dir() + "/charts/conveyor"; }

struct Helm {
  int code = -1;
  std::string out, err;
};

Helm helm(std::vector<std::string> args) {
  const std::string bin = helm_path();
  if (bin.empty()) {
    ADD_FAILURE() << "helm not found: set CONVEYOR_HELM or run scripts/setup (builds ~/.cache/conveyor/bin/helm)";
    return {};
  }
  process::Options o;
  o.argv = {bin};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.env = process::inherit({"HOME", "PATH"});
  o.timeout = std::chrono::seconds(60);
  auto r = process::capture(o);
  if (!r) {
    ADD_FAILURE() << "cannot run " << bin << ": " << r.error().message;
    return {};
  }
  return {r->exit.exit_code, r->out, r->err};
}

// `helm template` with extra arguments; every non-empty document.
std::vector<YAML::Node> render(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"template", "rel", chart_dir(), "--namespace", "cd"};
  args.insert(args.end(), extra.begin(), extra.end());
  const Helm h = helm(args);
  EXPECT_EQ(h.code, 0) << h.err;
  std::vector<YAML::Node> docs;
  if (h.code != 0) return docs;
  for (const auto& d : YAML::LoadAll(h.out)) {
    if (d.IsMap()) docs.push_back(d);
  }
  return docs;
}

std::vector<YAML::Node> of_kind(const std::vector<YAML::Node>& docs, const std::string& kind) {
  std::vector<YAML::Node> out;
  for (const auto& d : docs) {
    if (d["kind"].as<std::string>() == kind) out.push_back(d);
  }
  return out;
}

std::string app_version() { return YAML::LoadFile(chart_dir() + "/Chart.yaml")["appVersion"].as<std::string>(); }

const std::set<std::string> kServices = {"webhook",      "test-runner", "version-tagger",  "image-builder",
                                         "helm-updater", "deployer",    "health-verifier", "notifier"};

TEST(Chart, HelmIsAvailable) {
  ASSERT_FALSE(helm_path().empty())
      << "helm not found: set CONVEYOR_HELM or run scripts/setup (builds ~/.cache/conveyor/bin/helm)";
}

TEST(Chart, LintStrictPasses) {
  const Helm h = helm({"lint", "--strict", chart_dir()});
  EXPECT_EQ(h.code, 0) << h.out << h.err;
}

TEST(Chart, OneDeploymentPerServiceWithProbesResourcesAndNonRootSecurity) {
  const auto docs = render();
  const auto deployments = of_kind(docs, "Deployment");
  std::set<std::string> seen;
  for (const auto& d : deployments) {
    const std::string name = d["metadata"]["name"].as<std::string>();
    const auto pod = d["spec"]["template"]["spec"];
    ASSERT_EQ(pod["containers"].size(), 1u) << name;
    const auto c = pod["containers"][0];
    seen.insert(c["args"][0].as<std::string>());
    EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz") << name;
    EXPECT_EQ(c["livenessProbe"]["httpGet"]["port"].as<std::string>(), "admin") << name;
    EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/readyz") << name;
    EXPECT_EQ(c["readinessProbe"]["httpGet"]["port"].as<std::string>(), "admin") << name;
    EXPECT_TRUE(c["resources"]["requests"]["cpu"].IsScalar()) << name;
    EXPECT_TRUE(c["resources"]["requests"]["memory"].IsScalar()) << name;
    bool admin_port = false;
    for (const auto& p : c["ports"]) admin_port |= p["name"].as<std::string>() == "admin";
    EXPECT_TRUE(admin_port) << name;
    // The admin endpoint must listen beyond loopback for the kubelet's probes.
    std::vector<std::string> args;
    for (const auto& a : c["args"]) args.push_back(a.as<std::string>());
    EXPECT_NE(std::find(args.begin(), args.end(), "0.0.0.0:9090"), args.end()) << name;
    EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>()) << name;
    EXPECT_NE(pod["securityContext"]["runAsUser"].as<int>(), 0) << name;
    EXPECT_FALSE(c["securityContext"]["privileged"] && c["securityContext"]["privileged"].as<bool>()) << name;
    const bool builder = name.ends_with("-image-builder");
    // buildah needs a writable root; every other service runs read-only.
    EXPECT_EQ(c["securityContext"]["readOnlyRootFilesystem"].as<bool>(), !builder) << name;
    EXPECT_EQ(pod["automountServiceAccountToken"].as<bool>(), name.ends_with("-deployer")) << name;
    // --config names the mounted file, and the mount is that file only: the
    // image's /etc/conveyor/containers (buildah's and podman's
    // containers.conf, storage.conf; CONVEYOR_CONTAINERS_DIR) stays visible.
    const auto config_arg = std::find(args.begin(), args.end(), "--config");
    ASSERT_NE(config_arg, args.end()) << name;
    ASSERT_NE(config_arg + 1, args.end()) << name;
    bool config_mounted = false;
    for (const auto& m : c["volumeMounts"]) {
      const std::string path = m["mountPath"].as<std::string>();
      EXPECT_FALSE(path == "/etc" || path == "/etc/conveyor" || path.starts_with("/etc/conveyor/containers"))
          << name << " mounts over the image's " << path;
      if (m["name"].as<std::string>() == "config") {
        config_mounted = true;
        EXPECT_EQ(path, *(config_arg + 1)) << name;
        EXPECT_EQ(m["subPath"].as<std::string>(), "conveyor.yaml") << name;
      }
    }
    EXPECT_TRUE(config_mounted) << name;
  }
  EXPECT_EQ(seen, kServices);
}

TEST(Chart, ImageTagDefaultsToAppVersionAndCanBeSet) {
  const std::string want = "ghcr.io/conveyor/conveyor:" + app_version();
  const auto deployments = of_kind(render(), "Deployment");
  ASSERT_EQ(deployments.size(), kServices.size());
  for (const auto& d : deployments) {
    EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][0]["image"].as<std::string>(), want);
  }
  for (const auto& d : of_kind(render({"--set", "image.tag=9.9.9", "--set", "image.repository=r.example/c"}),
                               "Deployment")) {
    EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][0]["image"].as<std::string>(), "r.example/c:9.9.9");
  }
}

// Every secret-bearing variable comes from a secretKeyRef; no Secret object,
// and no plain value that looks like one.
void expect_secrets_by_reference(const std::vector<YAML::Node>& docs, const std::string& canary) {
  const std::regex secretish("(SECRET|TOKEN|PASSWORD|_URL)$");
  EXPECT_TRUE(of_kind(docs, "Secret").empty());
  for (const auto& d : of_kind(docs, "Deployment")) {
    for (const auto& e : d["spec"]["template"]["spec"]["containers"][0]["env"]) {
      const std::string name = e["name"].as<std::string>();
      if (!std::regex_search(name, secretish)) continue;
      EXPECT_FALSE(e["value"]) << name << " is a plain value";
      EXPECT_TRUE(e["valueFrom"]["secretKeyRef"]["name"].IsScalar()) << name;
    }
  }
  for (const auto& d : docs) {
    YAML::Emitter out;
    out << d;
    EXPECT_EQ(std::string(out.c_str()).find(canary), std::string::npos) << d["kind"] << " shows a secret value";
  }
}

TEST(Chart, SecretsAreOnlyReferencedNeverRendered) {
  const auto docs = render({"--set", "secrets.existingSecret=cd-secrets", "--set", "secrets.env[0].name=SLACK_WEBHOOK_URL",
                            "--set", "secrets.env[0].key=slack-url", "--set", "registryAuth.existingSecret=regcred"});
  expect_secrets_by_reference(docs, "never-seen");
  bool webhook_secret = false;
  for (const auto& d : of_kind(docs, "Deployment")) {
    const auto pod = d["spec"]["template"]["spec"];
    bool slack = false;
    for (const auto& e : pod["containers"][0]["env"]) {
      const std::string name = e["name"].as<std::string>();
      if (name == "SLACK_WEBHOOK_URL") {
        slack = true;
        EXPECT_EQ(e["valueFrom"]["secretKeyRef"]["name"].as<std::string>(), "cd-secrets");
        EXPECT_EQ(e["valueFrom"]["secretKeyRef"]["key"].as<std::string>(), "slack-url");
      }
      if (name == "CONVEYOR_WEBHOOK_SECRET") {
        webhook_secret = true;
        EXPECT_EQ(pod["containers"][0]["args"][0].as<std::string>(), "webhook");
        EXPECT_FALSE(e["valueFrom"]["secretKeyRef"]["optional"]);  // required
      }
    }
    EXPECT_TRUE(slack) << d["metadata"]["name"];
    const std::string svc = pod["containers"][0]["args"][0].as<std::string>();
    bool registry = false;
    for (const auto& v : pod["volumes"]) registry |= v["secret"] && v["secret"]["secretName"].as<std::string>() == "regcred";
    EXPECT_EQ(registry, svc == "image-builder" || svc == "deployer") << svc;
  }
  EXPECT_TRUE(webhook_secret);
}

std::optional<YAML::Node> env_var(const YAML::Node& deployment, const std::string& name) {
  for (const auto& e : deployment["spec"]["template"]["spec"]["containers"][0]["env"]) {
    if (e["name"].as<std::string>() == name) return e;
  }
  return std::nullopt;
}

bool is_optional(const YAML::Node& env) {
  const auto o = env["valueFrom"]["secretKeyRef"]["optional"];
  return o && o.as<bool>();
}

YAML::Node rendered_config(const std::vector<YAML::Node>& docs) {
  const auto maps = of_kind(docs, "ConfigMap");
  EXPECT_EQ(maps.size(), 1u);
  return maps.empty() ? YAML::Node() : YAML::Load(maps[0]["data"]["conveyor.yaml"].as<std::string>());
}

// Every variable conveyor.yaml names for the suite's own secrets is set in
// the pods that resolve it, from a required Secret key: a service that cannot
// resolve github.token refuses to start (version-tagger exits 2).
TEST(Chart, ConfigSecretVariablesComeFromRequiredSecretKeys) {
  const auto docs = render({"--set", "secrets.env[0].name=SLACK_WEBHOOK_URL", "--set", "secrets.env[0].key=slack-url",
                            "--set", "secrets.env[1].name=ARGOCD_TOKEN", "--set", "secrets.env[1].key=argocd",
                            "--set", "secrets.env[1].optional=false"});
  const YAML::Node cfg = rendered_config(docs);
  ASSERT_TRUE(cfg["github"]["token"]["env"]) << "github.token";
  const std::string token_var = cfg["github"]["token"]["env"].as<std::string>();
  const std::string webhook_var = cfg["webhook"]["secrets"][0]["env"].as<std::string>();
  const auto deployments = of_kind(docs, "Deployment");
  ASSERT_EQ(deployments.size(), kServices.size());
  for (const auto& d : deployments) {
    const std::string svc = d["spec"]["template"]["spec"]["containers"][0]["args"][0].as<std::string>();
    const auto token = env_var(d, token_var);
    ASSERT_TRUE(token) << svc << " lacks " << token_var;
    EXPECT_EQ((*token)["valueFrom"]["secretKeyRef"]["key"].as<std::string>(), "github-token") << svc;
    EXPECT_FALSE(is_optional(*token))
        << svc << ": an optional " << token_var << " lets version-tagger crash-loop instead of naming the missing key";
    if (svc == "webhook") {
      const auto secret = env_var(d, webhook_var);
      ASSERT_TRUE(secret) << webhook_var;
      EXPECT_FALSE(is_optional(*secret));
    }
    const auto slack = env_var(d, "SLACK_WEBHOOK_URL");
    ASSERT_TRUE(slack) << svc;
    EXPECT_TRUE(is_optional(*slack)) << svc;  // env[] default
    const auto argocd = env_var(d, "ARGOCD_TOKEN");
    ASSERT_TRUE(argocd) << svc;
    EXPECT_FALSE(is_optional(*argocd)) << svc;  // optional: false is kept
  }

  // Without a token key: no GITHUB_TOKEN and no github.token to resolve.
  const auto none = render({"--set", "secrets.githubTokenKey="});
  EXPECT_FALSE(rendered_config(none)["github"]["token"]);
  for (const auto& d : of_kind(none, "Deployment")) EXPECT_FALSE(env_var(d, token_var)) << d["metadata"]["name"];
}

// How helm reports values that values.schema.json refuses.
constexpr const char* kSchemaRefusal = "values don't meet the specifications of the schema";

TEST(Chart, SchemaRefusesSecretValuesAndBadSettings) {
  // There is no value for a secret's content: such keys are refused.
  for (const char* bad : {"secrets.webhookSecret=never-seen", "github.token=never-seen", "kafka.brokers=",
                          "redis.url=http://redis", "services.webhook.replicas=-1", "services.typo.enabled=true",
                          "kafka.maxPollInterval=10min", "registry=https://registry.example.com",
                          "webhook.ingress.enabled=true"}) {
    const Helm h = helm({"template", "rel", chart_dir(), "--set", bad});
    EXPECT_NE(h.code, 0) << bad << " was accepted";
    // Refused by values.schema.json, not by some other error (a missing chart).
    EXPECT_NE(h.err.find(kSchemaRefusal), std::string::npos) << bad << ": " << h.err;
    EXPECT_EQ(h.out.find("never-seen"), std::string::npos);
    EXPECT_EQ(h.err.find("never-seen"), std::string::npos);
  }
  // conveyor.yaml takes a duration string only with its unit ("30" is refused
  // at start), so the values schema refuses it too.
  const Helm unitless = helm({"template", "rel", chart_dir(), "--set-string", "kafka.maxPollInterval=30"});
  EXPECT_NE(unitless.code, 0) << "a duration string without a unit was accepted";
  EXPECT_NE(unitless.err.find(kSchemaRefusal), std::string::npos) << unitless.err;
}

TEST(Chart, RbacIsNamespacedByDefault) {
  const auto docs = render();
  EXPECT_TRUE(of_kind(docs, "ClusterRole").empty());
  EXPECT_TRUE(of_kind(docs, "ClusterRoleBinding").empty());
  const auto roles = of_kind(docs, "Role");
  const auto bindings = of_kind(docs, "RoleBinding");
  ASSERT_EQ(roles.size(), 1u);
  ASSERT_EQ(bindings.size(), 1u);
  EXPECT_EQ(roles[0]["metadata"]["namespace"].as<std::string>(), "cd");
  EXPECT_EQ(bindings[0]["subjects"][0]["name"].as<std::string>(), "rel-conveyor");
  EXPECT_EQ(bindings[0]["subjects"][0]["namespace"].as<std::string>(), "cd");

  // One Role per target namespace, bound to the suite's ServiceAccount.
  const auto targets = render({"--set", "rbac.namespaces={staging,production}"});
  std::set<std::string> namespaces;
  for (const auto& r : of_kind(targets, "Role")) namespaces.insert(r["metadata"]["namespace"].as<std::string>());
  EXPECT_EQ(namespaces, (std::set<std::string>{"staging", "production"}));
  EXPECT_EQ(of_kind(targets, "RoleBinding").size(), 2u);

  const auto wide = render({"--set", "rbac.clusterWide=true"});
  EXPECT_EQ(of_kind(wide, "ClusterRole").size(), 1u);
  EXPECT_TRUE(of_kind(wide, "Role").empty());
}

TEST(Chart, AutoscalingOffByDefaultAndPerService) {
  const auto docs = render();
  EXPECT_TRUE(of_kind(docs, "HorizontalPodAutoscaler").empty());
  EXPECT_EQ(of_kind(docs, "PodDisruptionBudget").size(), kServices.size());
  for (const auto& d : of_kind(docs, "Deployment")) EXPECT_TRUE(d["spec"]["replicas"].IsScalar());

  const auto scaled = render({"--set", "services.test-runner.autoscaling.enabled=true", "--set",
                              "services.test-runner.autoscaling.maxReplicas=6"});
  const auto hpas = of_kind(scaled, "HorizontalPodAutoscaler");
  ASSERT_EQ(hpas.size(), 1u);
  EXPECT_EQ(hpas[0]["spec"]["scaleTargetRef"]["name"].as<std::string>(), "rel-conveyor-test-runner");
  EXPECT_EQ(hpas[0]["spec"]["maxReplicas"].as<int>(), 6);
  for (const auto& d : of_kind(scaled, "Deployment")) {
    // The HPA owns the replica count of the scaled Deployment only.
    EXPECT_EQ(!d["spec"]["replicas"], d["metadata"]["name"].as<std::string>() == "rel-conveyor-test-runner");
  }
}

TEST(Chart, WebhookServiceIngressAndServiceMonitor) {
  const auto docs = render({"--set", "webhook.ingress.enabled=true", "--set", "webhook.ingress.hosts[0].host=cd.example.com",
                            "--set", "webhook.ingress.hosts[0].paths[0].path=/webhooks", "--set",
                            "serviceMonitor.enabled=true"});
  const auto ingresses = of_kind(docs, "Ingress");
  ASSERT_EQ(ingresses.size(), 1u);
  const auto backend = ingresses[0]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"];
  EXPECT_EQ(backend["name"].as<std::string>(), "rel-conveyor-webhook");
  EXPECT_EQ(backend["port"]["name"].as<std::string>(), "http");
  bool http_port = false;
  for (const auto& s : of_kind(docs, "Service")) {
    if (s["metadata"]["name"].as<std::string>() != "rel-conveyor-webhook") continue;
    for (const auto& p : s["spec"]["ports"]) http_port |= p["name"].as<std::string>() == "http";
  }
  EXPECT_TRUE(http_port);
  EXPECT_EQ(of_kind(docs, "ServiceMonitor").size(), 1u);
  EXPECT_TRUE(of_kind(render(), "Ingress").empty());
  EXPECT_TRUE(of_kind(render(), "ServiceMonitor").empty());
}

// The ConfigMap's conveyor.yaml goes through the services' own loader
// (schema + semantic rules): with the default values, and with a pipeline
// given as values.
TEST(Chart, DefaultRenderedConfigIsAcceptedByTheServices) {
  const auto maps = of_kind(render(), "ConfigMap");
  ASSERT_EQ(maps.size(), 1u);
  const std::string text = maps[0]["data"]["conveyor.yaml"].as<std::string>();
  auto parsed = config::parse(text, testing::source_dir() + "/schemas/conveyor.schema.json", "conveyor.yaml");
  ASSERT_TRUE(std::holds_alternative<config::Config>(parsed))
      << std::get<config::LoadError>(parsed).to_string() << "\n" << text;
  EXPECT_EQ(std::get<config::Config>(parsed).kafka.brokers, "kafka:9092");
}

TEST(Chart, RenderedConfigIsAcceptedByTheServices) {
  const fs::path values = fs::temp_directory_path() / ("chart_test_values_" + std::to_string(::getpid()) + ".yaml");
  {
    std::ofstream v(values);
    v << R"(kafka: {brokers: "kafka-0.kafka:9092,kafka-1.kafka:9092", topicPrefix: cd}
redis: {url: "redis://redis-master:6379/1"}
registry: registry.example.com
extraConfig:
  test-runner: {concurrency: 4}
pipelines:
  - name: app
    repository: example/app
    triggers:
      push: {branches: [main]}
    test:
      steps:
        - {name: unit, run: make test, timeout: 10m}
    version: {tag-prefix: v}
    notify:
      - provider: slack
        url-secret: {env: SLACK_WEBHOOK_URL}
        on: [failed]
      - provider: webhook
        url: https://hooks.example.com/cd
        secret: {env: HOOK_HMAC}
        "on": [deployed]
)";
  }
  const auto docs = render({"-f", values.string()});
  fs::remove(values);
  const auto maps = of_kind(docs, "ConfigMap");
  ASSERT_EQ(maps.size(), 1u);
  const std::string text = maps[0]["data"]["conveyor.yaml"].as<std::string>();
  auto parsed = config::parse(text, testing::source_dir() + "/schemas/conveyor.schema.json", "conveyor.yaml");
  ASSERT_TRUE(std::holds_alternative<config::Config>(parsed))
      << std::get<config::LoadError>(parsed).to_string() << "\n" << text;
  const auto& cfg = std::get<config::Config>(parsed);
  EXPECT_EQ(cfg.kafka.brokers, "kafka-0.kafka:9092,kafka-1.kafka:9092");
  EXPECT_EQ(cfg.kafka.topic_prefix, "cd");
  ASSERT_EQ(cfg.pipelines.size(), 1u);
  EXPECT_EQ(cfg.pipelines[0].name, "app");
  // Secrets stay references; the admin and webhook endpoints listen for probes and GitHub.
  const YAML::Node y = YAML::Load(text);
  EXPECT_EQ(y["webhook"]["secrets"][0]["env"].as<std::string>(), "CONVEYOR_WEBHOOK_SECRET");
  EXPECT_EQ(y["github"]["token"]["env"].as<std::string>(), "GITHUB_TOKEN");
  EXPECT_EQ(y["admin"]["listen"].as<std::string>(), "0.0.0.0:9090");
  EXPECT_EQ(y["webhook"]["listen"].as<std::string>(), "0.0.0.0:8080");
  EXPECT_EQ(y["test-runner"]["concurrency"].as<int>(), 4);
  // `on:` unquoted in values (YAML 1.1 reads it as `true:`) and quoted both arrive as `on`.
  EXPECT_EQ(y["pipelines"][0]["notify"][0]["on"][0].as<std::string>(), "failed");
  EXPECT_EQ(y["pipelines"][0]["notify"][1]["on"][0].as<std::string>(), "deployed");
}

}  // namespace
}  // namespace conveyor
