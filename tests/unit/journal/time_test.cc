#include "journal/time.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

using namespace berth::journal;

namespace {
constexpr int64_t kS = 1'000'000'000;
}

TEST(Time, FormatIsFixedWidthUtc) {
  EXPECT_EQ(format_rfc3339nano(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(format_rfc3339nano(1700000000123456789), "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(format_rfc3339nano(951782400 * kS), "2000-02-29T00:00:00.000000000Z");  // leap day
  EXPECT_EQ(format_rfc3339nano(-1), "1969-12-31T23:59:59.999999999Z");
  // The ends of int64 nanoseconds: still four-digit years.
  EXPECT_EQ(format_rfc3339nano(INT64_MAX), "2262-04-11T23:47:16.854775807Z");
  EXPECT_EQ(format_rfc3339nano(INT64_MIN), "1677-09-21T00:12:43.145224192Z");
}

TEST(Time, Rfc3339RoundTripsAndAcceptsOtherWriters) {
  for (int64_t t : {int64_t{0}, int64_t{1700000000123456789}, int64_t{4102444800} * kS + 1, int64_t{-1}}) {
    auto r = parse_rfc3339(format_rfc3339nano(t));
    ASSERT_TRUE(r.ok()) << r.error().str();
    EXPECT_EQ(*r, t);
  }
  // kubelet trims trailing zeros; conmon writes an offset.
  EXPECT_EQ(*parse_rfc3339("2023-11-14T22:13:20.5Z"), 1700000000 * kS + 500'000'000);
  EXPECT_EQ(*parse_rfc3339("2023-11-14T23:13:20.000000001+01:00"), 1700000000 * kS + 1);
  EXPECT_EQ(*parse_rfc3339("2023-11-14T22:13:20Z"), 1700000000 * kS);
  for (const char* bad : {"", "2023-11-14", "2023-11-14T22:13:20", "2023-11-14T22:13:20.Z", "2023-13-01T00:00:00Z",
                          "2023-02-29T00:00:00Z", "2023-11-14T24:00:00Z", "2023-11-14T22:13:20.1234567890Z",
                          "2023-11-14T22:13:20Zjunk", "2023-11-14T22:13:20+0100", "x023-11-14T22:13:20Z"})
    EXPECT_FALSE(parse_rfc3339(bad).ok()) << bad;
}

TEST(Time, GoDurations) {
  EXPECT_EQ(*parse_duration("0"), 0);
  EXPECT_EQ(*parse_duration("5s"), 5 * kS);
  EXPECT_EQ(*parse_duration("1h30m"), 5400 * kS);
  EXPECT_EQ(*parse_duration("250ms"), 250'000'000);
  EXPECT_EQ(*parse_duration("-1.5h"), -5400 * kS);
  EXPECT_EQ(*parse_duration("+10m"), 600 * kS);
  EXPECT_EQ(*parse_duration(".5s"), kS / 2);
  EXPECT_EQ(*parse_duration("1.5\xC2\xB5s"), 1500);
  EXPECT_EQ(*parse_duration("3us2ns"), 3002);
  EXPECT_EQ(*parse_duration("2562047h"), int64_t{2562047} * 3600 * kS);
  EXPECT_EQ(*parse_duration("9223372036854775807ns"), INT64_MAX);
  EXPECT_EQ(*parse_duration("1.h"), 3600 * kS);
  for (const char* bad : {"", "5", "1x", "h", "-", ".s", "1.2.3s", "2562048h", "9223372036854775808ns", "1h 30m", "1e3s", "9223372036854775807ns1ns"}) {
    auto r = parse_duration(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find(std::string("\"") + bad + "\""), std::string::npos) << r.error().message;
  }
}

TEST(Time, DockerSinceUntilArguments) {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  const int64_t now = 1700000000 * kS;
  EXPECT_EQ(*parse_time_arg("10m", now), now - 600 * kS);
  EXPECT_EQ(*parse_time_arg("1h30m", now), now - 5400 * kS);
  EXPECT_EQ(*parse_time_arg("-5s", now), now + 5 * kS);  // a negative duration is the future
  EXPECT_EQ(*parse_time_arg("1700000000", now), 1700000000 * kS);
  EXPECT_EQ(*parse_time_arg("1700000000.5", now), 1700000000 * kS + kS / 2);
  EXPECT_EQ(*parse_time_arg("1700000000.000000001", now), 1700000000 * kS + 1);
  EXPECT_EQ(*parse_time_arg("0", now), 0);
  EXPECT_EQ(*parse_time_arg("2023-11-14", now), 1699920000 * kS);
  EXPECT_EQ(*parse_time_arg("2023-11-14T22:13:20Z", now), 1700000000 * kS);
  EXPECT_EQ(*parse_time_arg("2023-11-14T22:13:20", now), 1700000000 * kS);  // local = UTC here
  EXPECT_EQ(*parse_time_arg("2023-11-14T22:13", now), 1700000000 * kS - 20 * kS);
  EXPECT_EQ(*parse_time_arg("2023-11-14T22", now), 1700000000 * kS - 13 * 60 * kS - 20 * kS);
  EXPECT_EQ(*parse_time_arg("2023-11-14T23:13:20.25+01:00", now), 1700000000 * kS + kS / 4);
  EXPECT_EQ(*parse_time_arg("2023-11-14Z", now), 1699920000 * kS);
  for (const char* bad : {"", "yesterday", "12ab", "1700000000.", "2023-13-01", "2023-11-14T25:00", "2023-11-14 22:00",
                          "1.2.3", "--5"}) {
    auto r = parse_time_arg(bad, now);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find(std::string("\"") + bad + "\""), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  }
}
