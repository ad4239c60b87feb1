#include "journal/time.h"

#include <time.h>

#include <limits>

namespace berth::journal {
namespace {

constexpr int64_t kSec = 1'000'000'000;

// Howard Hinnant's civil-calendar algorithms: exact, no timezone database,
// no locale, no static state (gmtime_r would do, but not for the parser).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
unsigned days_in_month(int64_t y, unsigned m) {
  static const unsigned k[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : k[m - 1];
}

Error bad_time(std::string_view s, std::string_view why) {
  return Error(Errc::invalid_argument, "invalid time \"" + std::string(s) + "\": " + std::string(why));
}

// Reads exactly n digits at s[i]; advances i.
bool digits(std::string_view s, size_t& i, size_t n, unsigned& out) {
  if (i + n > s.size()) return false;
  out = 0;
  for (size_t k = 0; k < n; ++k) {
    char c = s[i + k];
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<unsigned>(c - '0');
  }
  i += n;
  return true;
}

struct Civil {
  int64_t year = 0;
  unsigned month = 1, day = 1, hour = 0, min = 0, sec = 0;
  int64_t nanos = 0;
  bool has_zone = false;
  int64_t offset_sec = 0;  // east of UTC
};

// Date, then optionally 'T' with hour[:min[:sec[.frac]]], then optionally a
// zone. `need_full` demands RFC3339 proper (seconds and zone present).
Result<Civil> parse_civil(std::string_view s, bool need_full) {
  Civil c;
  size_t i = 0;
  unsigned y = 0;
  if (!digits(s, i, 4, y) || i >= s.size() || s[i++] != '-' || !digits(s, i, 2, c.month) ||
      i >= s.size() || s[i++] != '-' || !digits(s, i, 2, c.day))
    return bad_time(s, "want YYYY-MM-DD");
  c.year = y;
  if (c.month < 1 || c.month > 12) return bad_time(s, "month out of range");
  if (c.day < 1 || c.day > days_in_month(c.year, c.month)) return bad_time(s, "day out of range");
  bool has_seconds = false;
  if (i < s.size() && (s[i] == 'T' || s[i] == 't')) {
    ++i;
    if (!digits(s, i, 2, c.hour)) return bad_time(s, "want an hour after T");
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!digits(s, i, 2, c.min)) return bad_time(s, "want minutes");
      if (i < s.size() && s[i] == ':') {
        ++i;
        if (!digits(s, i, 2, c.sec)) return bad_time(s, "want seconds");
        has_seconds = true;
        if (i < s.size() && s[i] == '.') {
          ++i;
          size_t start = i;
          int64_t scale = kSec;
          while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            if (i - start >= 9) return bad_time(s, "more than 9 fractional digits");
            scale /= 10;
            c.nanos += (s[i] - '0') * scale;
            ++i;
          }
          if (i == start) return bad_time(s, "empty fraction");
        }
      }
    }
    if (c.hour > 23 || c.min > 59 || c.sec > 59) return bad_time(s, "time of day out of range");
  }
  if (i < s.size()) {
    if (s[i] == 'Z' || s[i] == 'z') {
      ++i;
      c.has_zone = true;
    } else if (s[i] == '+' || s[i] == '-') {
      int sign = s[i] == '-' ? -1 : 1;
      ++i;
      unsigned oh = 0, om = 0;
      if (!digits(s, i, 2, oh) || i >= s.size() || s[i++] != ':' || !digits(s, i, 2, om) || oh > 23 ||
          om > 59)
        return bad_time(s, "want a zone offset +hh:mm");
      c.has_zone = true;
      c.offset_sec = sign * static_cast<int64_t>(oh * 3600 + om * 60);
    }
  }
  if (i != s.size()) return bad_time(s, "trailing characters");
  if (need_full && (!has_seconds || !c.has_zone)) return bad_time(s, "want RFC3339 with seconds and a zone");
  return c;
}

int64_t civil_to_ns_utc(const Civil& c) {
  int64_t secs = days_from_civil(c.year, c.month, c.day) * 86400 + c.hour * 3600 + c.min * 60 + c.sec;
  return (secs - c.offset_sec) * kSec + c.nanos;
}

Result<int64_t> civil_to_ns(const Civil& c, std::string_view s) {
  if (c.has_zone) return civil_to_ns_utc(c);
  // Zone-less values are local time, as Docker's ParseInLocation(Local).
  struct tm tm {};
  tm.tm_year = static_cast<int>(c.year - 1900);
  tm.tm_mon = static_cast<int>(c.month - 1);
  tm.tm_mday = static_cast<int>(c.day);
  tm.tm_hour = static_cast<int>(c.hour);
  tm.tm_min = static_cast<int>(c.min);
  tm.tm_sec = static_cast<int>(c.sec);
  tm.tm_isdst = -1;
  time_t t = ::mktime(&tm);
  if (t == static_cast<time_t>(-1) && !(c.year == 1969 || c.year == 1970)) return bad_time(s, "not representable");
  return static_cast<int64_t>(t) * kSec + c.nanos;
}

// Docker's unix form: "<seconds>[.<fraction>]", the fraction a decimal.
Result<int64_t> parse_unix(std::string_view s) {
  size_t i = 0;
  int64_t secs = 0;
  if (s.empty()) return bad_time(s, "empty");
  bool neg = s[0] == '-';
  if (neg) ++i;
  size_t start = i;
  for (; i < s.size() && s[i] != '.'; ++i) {
    if (s[i] < '0' || s[i] > '9') return bad_time(s, "not a time, duration or unix timestamp");
    if (secs > (std::numeric_limits<int64_t>::max() / kSec - 9) / 10) return bad_time(s, "out of range");
    secs = secs * 10 + (s[i] - '0');
  }
  if (i == start) return bad_time(s, "not a time, duration or unix timestamp");
  int64_t nanos = 0;
  if (i < s.size()) {
    ++i;
    int64_t scale = kSec;
    size_t fs = i;
    for (; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return bad_time(s, "not a time, duration or unix timestamp");
      if (i - fs >= 9) continue;  // finer than a nanosecond: dropped
      scale /= 10;
      nanos += (s[i] - '0') * scale;
    }
    if (i == fs) return bad_time(s, "empty fraction");
  }
  int64_t v = secs * kSec + nanos;
  return neg ? -v : v;
}

}  // namespace

int64_t now_ns() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kSec + ts.tv_nsec;
}

void append_rfc3339nano(std::string& out, int64_t ns) {
  int64_t secs = ns / kSec, frac = ns % kSec;
  if (frac < 0) {
    frac += kSec;
    --secs;
  }
  int64_t days = secs / 86400, rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  // By hand, not snprintf: berth-monitor stamps every log record with this,
  // and printf's machinery (and its tables) kept ~300 KiB of the static
  // binary mapped in each monitor of a container that logs. int64
  // nanoseconds span the years 1677-2262: the year always has four digits.
  char buf[30];
  auto put = [&buf](int at, int width, uint64_t v) {
    for (int i = at + width - 1; i >= at; --i, v /= 10) buf[i] = static_cast<char>('0' + v % 10);
  };
  put(0, 4, static_cast<uint64_t>(y));
  buf[4] = '-';
  put(5, 2, m);
  buf[7] = '-';
  put(8, 2, d);
  buf[10] = 'T';
  put(11, 2, static_cast<uint64_t>(rem / 3600));
  buf[13] = ':';
  put(14, 2, static_cast<uint64_t>(rem / 60 % 60));
  buf[16] = ':';
  put(17, 2, static_cast<uint64_t>(rem % 60));
  buf[19] = '.';
  put(20, 9, static_cast<uint64_t>(frac));
  buf[29] = 'Z';
  out.append(buf, sizeof buf);
}

std::string format_rfc3339nano(int64_t ns) {
  std::string s;
  append_rfc3339nano(s, ns);
  return s;
}

Result<int64_t> parse_rfc3339(std::string_view s) {
  TRY_ASSIGN(Civil c, parse_civil(s, true));
  return civil_to_ns_utc(c);
}

Result<int64_t> parse_duration(std::string_view s) {
  auto bad = [&](std::string_view why) {
    return Error(Errc::invalid_argument, "invalid duration \"" + std::string(s) + "\": " + std::string(why));
  };
  std::string_view in = s;
  bool neg = false;
  if (!in.empty() && (in[0] == '-' || in[0] == '+')) {
    neg = in[0] == '-';
    in.remove_prefix(1);
  }
  if (in == "0") return int64_t{0};
  if (in.empty()) return bad("empty");
  // Accumulated in unsigned 64 bits like Go, so the bound is exact.
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t total = 0;
  while (!in.empty()) {
    uint64_t whole = 0;
    size_t i = 0;
    bool any = false, overflow = false;
    for (; i < in.size() && in[i] >= '0' && in[i] <= '9'; ++i) {
      any = true;
      uint64_t d = static_cast<uint64_t>(in[i] - '0');
      if (whole > (kMax - d) / 10) overflow = true;
      else whole = whole * 10 + d;
    }
    uint64_t frac = 0, frac_scale = 1;
    if (i < in.size() && in[i] == '.') {
      ++i;
      for (; i < in.size() && in[i] >= '0' && in[i] <= '9'; ++i) {
        any = true;
        if (frac_scale < 1'000'000'000'000'000ull) {  // beyond 18 digits adds nothing
          frac = frac * 10 + static_cast<uint64_t>(in[i] - '0');
          frac_scale *= 10;
        }
      }
    }
    if (!any) return bad("want a number");
    if (overflow) return bad("overflows int64 nanoseconds");
    in.remove_prefix(i);
    size_t u = 0;
    while (u < in.size() && in[u] != '.' && (in[u] < '0' || in[u] > '9')) ++u;
    std::string_view unit = in.substr(0, u);
    in.remove_prefix(u);
    uint64_t mult;
    if (unit.empty()) return bad("missing unit (ns, us, ms, s, m, h)");
    else if (unit == "ns") mult = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") mult = 1'000;
    else if (unit == "ms") mult = 1'000'000;
    else if (unit == "s") mult = 1'000'000'000;
    else if (unit == "m") mult = 60'000'000'000ull;
    else if (unit == "h") mult = 3'600'000'000'000ull;
    else return bad("unknown unit \"" + std::string(unit) + "\"");
    if (whole > kMax / mult) return bad("overflows int64 nanoseconds");
    uint64_t v = whole * mult;
    // frac/frac_scale * mult without overflow: frac < 1e18, mult <= 3.6e12.
    long double fv = static_cast<long double>(frac) * static_cast<long double>(mult) / static_cast<long double>(frac_scale);
    v += static_cast<uint64_t>(fv);
    if (v > kMax || total > kMax - v) return bad("overflows int64 nanoseconds");
    total += v;
  }
  int64_t r = static_cast<int64_t>(total);
  return neg ? -r : r;
}

Result<int64_t> parse_time_arg(std::string_view s, int64_t now) {
  if (s.empty()) return Error(Errc::invalid_argument, "invalid time \"\": empty");
  if (s != "0") {
    if (auto d = parse_duration(s); d.ok()) return now - *d;
  }
  // Anything with a date separator is meant as RFC3339: report that error.
  if (s.size() >= 5 && s[4] == '-') {
    TRY_ASSIGN(Civil c, parse_civil(s, false));
    return civil_to_ns(c, s);
  }
  return parse_unix(s);
}

}  // namespace berth::journal
