// Prometheus HTTP API answers (as Prometheus 2.x writes them) and the
// judgement of one measurement against thresholds.
#include "prometheus.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace conveyor::health_verifier {
namespace {

// Answers as Prometheus 2.42 (Debian's prometheus package) serves them on
// GET /api/v1/query (the error, the NaN scalar and the empty vector were
// captured from it; the others follow the same shapes).
constexpr const char* kVector = R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","instance":"127.0.0.1:40123","job":"app"},"value":[1717459200.123,"1"]},{"metric":{"__name__":"up","instance":"127.0.0.1:40124","job":"app"},"value":[1717459200.123,"0"]}]}})";
constexpr const char* kRatio = R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1717459200.5,"0.012345679012345678"]}]}})";
constexpr const char* kEmpty = R"({"status":"success","data":{"resultType":"vector","result":[]}})";
constexpr const char* kScalar = R"({"status":"success","data":{"resultType":"scalar","result":[1717459200.5,"42"]}})";
constexpr const char* kNaN = R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1717459200.5,"NaN"]}]}})";
constexpr const char* kInf = R"({"status":"success","data":{"resultType":"scalar","result":[1717459200.5,"+Inf"]}})";
constexpr const char* kBadData = R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:9: parse error: unclosed left parenthesis"})";
constexpr const char* kScalarNaN = R"({"status":"success","data":{"resultType":"scalar","result":[1795983887.834,"NaN"]}})";  // 0/0
constexpr const char* kMatrix = R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"app"},"values":[[1717459199,"1"],[1717459200,"1"]]}]}})";
constexpr const char* kWarnings = R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1717459200,"1e-05"]}]},"warnings":["something"]})";

TEST(ParseQueryResponse, VectorWithSeveralSeries) {
  auto r = parse_query_response(200, kVector);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->result_type, "vector");
  ASSERT_EQ(r->samples.size(), 2u);
  EXPECT_EQ(r->samples[0].value, 1.0);
  EXPECT_EQ(r->samples[0].metric["instance"], "127.0.0.1:40123");
  EXPECT_EQ(r->samples[1].value, 0.0);
  EXPECT_EQ(r->samples[1].text, "0");
}

TEST(ParseQueryResponse, RatioScalarEmptyAndSpecialValues) {
  auto ratio = parse_query_response(200, kRatio);
  ASSERT_TRUE(ratio.ok());
  EXPECT_NEAR(ratio->samples.at(0).value, 0.0123456790, 1e-9);
  EXPECT_TRUE(ratio->samples[0].metric.empty());

  auto empty = parse_query_response(200, kEmpty);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->samples.empty());

  auto scalar = parse_query_response(200, kScalar);
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(scalar->result_type, "scalar");
  ASSERT_EQ(scalar->samples.size(), 1u);
  EXPECT_EQ(scalar->samples[0].value, 42.0);

  auto scalar_nan = parse_query_response(200, kScalarNaN);
  ASSERT_TRUE(scalar_nan.ok());
  EXPECT_TRUE(std::isnan(scalar_nan->samples.at(0).value));

  auto nan = parse_query_response(200, kNaN);
  ASSERT_TRUE(nan.ok());
  EXPECT_TRUE(std::isnan(nan->samples.at(0).value));
  auto inf = parse_query_response(200, kInf);
  ASSERT_TRUE(inf.ok());
  EXPECT_TRUE(std::isinf(inf->samples.at(0).value));

  auto warned = parse_query_response(200, kWarnings);
  ASSERT_TRUE(warned.ok());
  EXPECT_DOUBLE_EQ(warned->samples.at(0).value, 1e-05);
}

TEST(ParseQueryResponse, ErrorsAreErrors) {
  auto bad = parse_query_response(400, kBadData);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bad_data"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("parse error"), std::string::npos);
  EXPECT_NE(bad.error().message.find("400"), std::string::npos);

  auto matrix = parse_query_response(200, kMatrix);
  ASSERT_FALSE(matrix.ok());
  EXPECT_NE(matrix.error().message.find("matrix"), std::string::npos);

  EXPECT_FALSE(parse_query_response(502, "<html>Bad Gateway</html>").ok());
  EXPECT_FALSE(parse_query_response(200, "").ok());
  EXPECT_FALSE(parse_query_response(200, R"({"status":"success"})").ok());
  EXPECT_FALSE(parse_query_response(200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"abc"]}]}})").ok());
  EXPECT_FALSE(parse_query_response(200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,2]}]}})").ok());
  EXPECT_FALSE(parse_query_response(200, R"({"status":"success","data":{"resultType":"string","result":[1,"x"]}})").ok());
  EXPECT_FALSE(parse_query_response(503, kEmpty).ok()) << "a success body with an error status is not trusted";
}

TEST(QueryUrl, EncodesThePromQL) {
  EXPECT_EQ(query_url("http://prom:9090", "up"), "http://prom:9090/api/v1/query?query=up");
  EXPECT_EQ(query_url("http://prom:9090/", "sum(rate(x{status=~\"5..\"}[1m])) > 0.5"),
            "http://prom:9090/api/v1/query?query=sum%28rate%28x%7Bstatus%3D~%225..%22%7D%5B1m%5D%29%29%20%3E%200.5");
  EXPECT_EQ(query_url("http://h/prometheus", "a+b"), "http://h/prometheus/api/v1/query?query=a%2Bb");
}

PrometheusCheck max_check(double max) {
  PrometheusCheck c;
  c.url = "http://prom:9090";
  c.query = "error_ratio";
  c.max = max;
  return c;
}

QueryResult values(std::initializer_list<const char*> texts) {
  QueryResult r;
  r.result_type = "vector";
  int i = 0;
  for (const char* t : texts) {
    Sample s;
    s.text = t;
    s.value = std::strtod(t, nullptr);
    s.metric = {{"pod", "p" + std::to_string(i++)}};
    r.samples.push_back(s);
  }
  return r;
}

TEST(JudgeMeasurement, Thresholds) {
  EXPECT_EQ(judge(max_check(0.01), values({"0.005"})).phase, Measurement::Phase::successful);
  EXPECT_EQ(judge(max_check(0.01), values({"0.01"})).phase, Measurement::Phase::successful) << "bounds are inclusive";
  const auto over = judge(max_check(0.01), values({"0.02"}));
  EXPECT_EQ(over.phase, Measurement::Phase::failed);
  EXPECT_NE(over.message.find("0.02"), std::string::npos) << over.message;
  EXPECT_NE(over.message.find("<= 0.01"), std::string::npos) << over.message;

  PrometheusCheck both = max_check(10);
  both.min = 1;
  EXPECT_EQ(judge(both, values({"1"})).phase, Measurement::Phase::successful);
  EXPECT_EQ(judge(both, values({"0.5"})).phase, Measurement::Phase::failed);
  EXPECT_EQ(judge(both, values({"11"})).phase, Measurement::Phase::failed);
  EXPECT_EQ(judge(both, values({"+Inf"})).phase, Measurement::Phase::failed) << "infinities compare";

  PrometheusCheck none;
  none.query = "up";
  EXPECT_EQ(judge(none, values({"123"})).phase, Measurement::Phase::successful) << "no bounds: any value";
}

TEST(JudgeMeasurement, SeveralSeriesFailWhenAnyBreaks) {
  const auto m = judge(max_check(0.01), values({"0.001", "0.5", "0.002"}));
  EXPECT_EQ(m.phase, Measurement::Phase::failed);
  EXPECT_NE(m.message.find("p1"), std::string::npos) << "names the breaking series: " << m.message;
  EXPECT_EQ(judge(max_check(0.01), values({"0.001", "0.002"})).phase, Measurement::Phase::successful);
}

TEST(JudgeMeasurement, EmptyPerOnEmpty) {
  auto c = max_check(0.01);
  QueryResult empty;
  empty.result_type = "vector";
  c.on_empty = OnEmpty::fail;
  EXPECT_EQ(judge(c, empty).phase, Measurement::Phase::failed);
  c.on_empty = OnEmpty::pass;
  EXPECT_EQ(judge(c, empty).phase, Measurement::Phase::successful);
  c.on_empty = OnEmpty::inconclusive;
  const auto m = judge(c, empty);
  EXPECT_EQ(m.phase, Measurement::Phase::inconclusive);
  EXPECT_NE(m.message.find("empty result"), std::string::npos);
  // NaN only (0/0 without traffic) is no data; NaN beside a value is ignored.
  EXPECT_EQ(judge(c, values({"NaN"})).phase, Measurement::Phase::inconclusive);
  EXPECT_EQ(judge(c, values({"NaN", "0.5"})).phase, Measurement::Phase::failed);
  EXPECT_EQ(judge(c, values({"NaN", "0.001"})).phase, Measurement::Phase::successful);
}

TEST(JudgeMeasurement, ApiErrorIsAnError) {
  const auto m = judge(max_check(0.01), make_error(Errc::unavailable, "GET http://prom:9090: connect failed"));
  EXPECT_EQ(m.phase, Measurement::Phase::error);
  EXPECT_NE(m.message.find("connect failed"), std::string::npos);
  EXPECT_EQ(to_json(m)["phase"], "error");
}

TEST(JudgeMeasurement, JsonKeepsValuesAndCapsSeries) {
  const auto m = judge(max_check(0.01), values({"0.001", "NaN"}));
  const auto j = to_json(m);
  EXPECT_EQ(j["phase"], "successful");
  ASSERT_EQ(j["values"].size(), 2u);
  EXPECT_EQ(j["values"][0]["value"], 0.001);
  EXPECT_EQ(j["values"][1]["value"], "NaN");
  EXPECT_EQ(j["values"][0]["metric"]["pod"], "p0");

  QueryResult many;
  many.result_type = "vector";
  for (int i = 0; i < 25; ++i) many.samples.push_back(Sample{{}, 0.0, "0"});
  const auto capped = to_json(judge(max_check(1), many));
  EXPECT_EQ(capped["values"].size(), kMaxSeriesRecorded);
  EXPECT_EQ(capped["series"], 25);
}

}  // namespace
}  // namespace conveyor::health_verifier
