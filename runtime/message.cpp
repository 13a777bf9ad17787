#include <cairn/message.hpp>

#include <pthread.h>
#include <sys/random.h>
#include <uuid/uuid.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>
#include <system_error>

#include <cairn/errors.hpp>

namespace cairn {

namespace {

// Bumped in a forked child, whose copies of the threads' random bytes its parent uses too.
std::atomic<unsigned> forks{0};

// Random bytes from the kernel, taken 4 KiB at a time: libuuid asked for each id's 16 bytes in a
// syscall of its own, with a getpid and a getuid, which was 8% of a command's CPU in the client.
void random_bytes(unsigned char* out) {
  static std::once_flag registered;
  std::call_once(registered, [] { pthread_atfork(nullptr, nullptr, [] { forks.fetch_add(1); }); });
  struct Pool {
    unsigned char bytes[4096];
    size_t used = sizeof bytes;
    unsigned generation = 0;
  };
  thread_local Pool pool;
  if (pool.used == sizeof pool.bytes || pool.generation != forks.load()) {
    for (size_t filled = 0; filled < sizeof pool.bytes;) {
      auto n = getrandom(pool.bytes + filled, sizeof pool.bytes - filled, 0);
      if (n < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "getrandom");
      if (n > 0) filled += static_cast<size_t>(n);
    }
    pool.used = 0;
    pool.generation = forks.load();
  }
  std::memcpy(out, pool.bytes + pool.used, 16);
  pool.used += 16;
}

}  // namespace

// A time-ordered (version 7) uuid, as RFC 9562 lays it out: the Unix time in milliseconds, then
// 12 bits of its fraction, then 62 random bits. The log's id and correlation indexes then grow at
// their right edge, as the position index does: random (version 4) ids touched a random leaf page
// of each per message, and after a checkpoint each such page costs a full-page image in the WAL
// (8.4 KiB of WAL per command instead of 1.9 on a log of two million messages). Within a thread
// the ids increase strictly, even when the clock repeats or steps back.
std::string new_uuid() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  auto millis = static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
  auto fraction = (static_cast<uint64_t>(ts.tv_nsec) % 1000000) * 4096 / 1000000;
  thread_local uint64_t last = 0;
  uint64_t stamp = std::max(millis << 12 | fraction, last + 1);  // 48 bits of milliseconds, 12 of fraction
  last = stamp;
  uuid_t raw;
  random_bytes(raw);
  for (int i = 0; i < 6; ++i) raw[i] = static_cast<unsigned char>(stamp >> (52 - 8 * i));
  raw[6] = static_cast<unsigned char>(0x70 | ((stamp >> 8) & 0x0f));
  raw[7] = static_cast<unsigned char>(stamp);
  raw[8] = static_cast<unsigned char>((raw[8] & 0x3f) | 0x80);
  char text[37];
  uuid_unparse_lower(raw, text);
  return text;
}

Timestamp now() { return std::chrono::time_point_cast<std::chrono::microseconds>(Clock::now()); }

Message make_message(std::string stream_id, std::string type, Json payload, Json metadata, int revision) {
  Message m;
  m.id = new_uuid();
  m.stream_id = std::move(stream_id);
  m.type = std::move(type);
  m.revision = revision;
  m.payload = std::move(payload);
  if (!metadata.is_object() && !metadata.is_null()) throw BadInput("metadata must be a JSON object");
  m.metadata = metadata.is_object() ? std::move(metadata) : Json::object();
  if (!m.metadata.contains("correlation_id")) m.metadata["correlation_id"] = m.id;
  return m;
}

std::string metadata_string(const Json& metadata, std::string_view key) {
  auto it = metadata.find(key);
  return it != metadata.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string format_time(Timestamp t) {
  auto micros = t.time_since_epoch().count();
  auto secs = static_cast<std::time_t>(micros >= 0 ? micros / 1000000 : (micros - 999999) / 1000000);
  auto frac = static_cast<long>(micros - static_cast<int64_t>(secs) * 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

namespace {

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

// Reads the text a field at a time; every mistake names the text and the field.
struct TimeReader {
  std::string_view text;
  size_t at = 0;

  [[noreturn]] void fail(const std::string& why) const {
    std::string shown;
    for (unsigned char c : text.substr(0, 64)) shown += c < 0x20 || c >= 0x7f ? '?' : static_cast<char>(c);
    throw BadInput("invalid time '" + shown + (text.size() > 64 ? "...'" : "'") + ": " + why +
                   " (expected RFC 3339, e.g. 2026-11-26T11:02:31Z or 2026-11-26T12:02:31.5+01:00)");
  }
  unsigned digits(size_t n, const char* field) {
    unsigned value = 0;
    for (size_t i = 0; i < n; ++i, ++at) {
      if (at >= text.size() || text[at] < '0' || text[at] > '9')
        fail(std::string("the ").append(field).append(" must be ").append(std::to_string(n)).append(" digits"));
      value = value * 10 + static_cast<unsigned>(text[at] - '0');
    }
    return value;
  }
  unsigned field(size_t n, const char* name, unsigned low, unsigned high) {
    auto value = digits(n, name);
    if (value < low || value > high)
      fail(std::string("the ").append(name).append(" ").append(std::to_string(value)).append(" is not within ")
               .append(std::to_string(low)).append("-").append(std::to_string(high)));
    return value;
  }
  void expect(std::string_view allowed, const char* what) {
    if (at >= text.size() || allowed.find(text[at]) == std::string_view::npos) fail(std::string("expected ") + what);
    ++at;
  }
};

}  // namespace

Timestamp parse_time(std::string_view text) {
  TimeReader r{text};
  int64_t year = r.digits(4, "year");
  r.expect("-", "'-' after the year");
  unsigned month = r.field(2, "month", 1, 12);
  r.expect("-", "'-' after the month");
  unsigned day = r.field(2, "day", 1, 31);
  if (day > days_in_month(year, month))
    r.fail("day " + std::to_string(day) + " does not exist in " + std::to_string(year) + "-" +
           (month < 10 ? "0" : "") + std::to_string(month));
  r.expect("Tt ", "'T' or a space between the date and the time");
  unsigned hour = r.field(2, "hour", 0, 23);
  r.expect(":", "':' after the hour");
  unsigned minute = r.field(2, "minute", 0, 59);
  r.expect(":", "':' after the minute");
  // POSIX time, Cairn's clock, has no leap seconds: :60 is refused rather than folded into the next minute.
  unsigned second = r.field(2, "second", 0, 59);
  int64_t micros = 0;
  if (r.at < text.size() && text[r.at] == '.') {
    ++r.at;
    size_t first = r.at;
    for (; r.at < text.size() && text[r.at] >= '0' && text[r.at] <= '9'; ++r.at)
      if (r.at - first < 6) micros = micros * 10 + (text[r.at] - '0');
    if (r.at == first) r.fail("the fraction after '.' has no digits");
    for (size_t n = r.at - first; n < 6; ++n) micros *= 10;
  }
  int64_t offset_seconds = 0;
  if (r.at < text.size() && (text[r.at] == 'Z' || text[r.at] == 'z')) {
    ++r.at;
  } else if (r.at < text.size() && (text[r.at] == '+' || text[r.at] == '-')) {
    int sign = text[r.at] == '-' ? -1 : 1;
    ++r.at;
    unsigned offset_hours = r.field(2, "offset's hours", 0, 23);
    r.expect(":", "':' in the offset (+HH:MM)");
    unsigned offset_minutes = r.field(2, "offset's minutes", 0, 59);
    offset_seconds = sign * static_cast<int64_t>(offset_hours * 3600 + offset_minutes * 60);
  } else {
    r.fail(r.at < text.size() ? "expected 'Z' or an offset like +01:00 after the seconds"
                              : "the time zone is missing: end it with 'Z' or an offset like +01:00");
  }
  if (r.at != text.size()) r.fail("unexpected text after the time zone");
  int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  return Timestamp(std::chrono::microseconds(secs * 1000000 + micros));
}

void to_json(Json& j, const Message& m) {
  j = Json{{"id", m.id},
           {"stream_id", m.stream_id},
           {"seq", m.seq},
           {"position", m.position},
           {"type", m.type},
           {"revision", m.revision},
           {"payload", m.payload},
           {"metadata", m.metadata},
           {"created_at", format_time(m.created_at)}};
}

void from_json(const Json& j, Message& m) {
  if (!j.is_object()) throw BadInput("a message must be a JSON object");
  try {
    m.id = j.value("id", std::string());
    m.stream_id = j.value("stream_id", std::string());
    m.seq = j.value("seq", int64_t{0});
    m.position = j.value("position", int64_t{0});
    m.type = j.value("type", std::string());
    m.revision = j.value("revision", 1);
    m.payload = j.value("payload", Json::object());
    m.metadata = j.value("metadata", Json::object());
    m.created_at = j.contains("created_at") ? parse_time(j.at("created_at").get<std::string>()) : Timestamp{};
  } catch (const Json::exception& e) {
    throw BadInput(std::string("malformed message: ") + e.what());
  }
}

}  // namespace cairn
