// The holiday booking workflow on the backend under test, with real workers (its decisions are
// specified in holiday_booking_spec.cpp): both legs booked concurrently, each failure compensated,
// a deadline that fires, and one correlation id over the whole chain.
#include <doctest/doctest.h>

#include <algorithm>

#include "examples/holiday_booking/booking.hpp"
#include "examples/holiday_booking/suppliers.hpp"
#include <cairn/runtime.hpp>
#include "tests/support/backend.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/process.hpp"
#include "tests/support/runtimes.hpp"

using namespace cairn;
using namespace travel;

namespace {

std::unique_ptr<Runtime> travel_runtime() {
  auto runtime = testing::backend_runtime();
  runtime->add(booking_actor()).add(flight_actor()).add(hotel_actor());
  return runtime;
}

std::vector<std::string> types_of(Runtime& runtime, const std::string& stream) {
  std::vector<std::string> types;
  for (const auto& m : runtime.store().read_stream(stream)) types.push_back(m.type);
  return types;
}

// Runs a booking through the workers until it settles; returns the id of its first command.
std::string book(Runtime& runtime, const std::string& id, const StartBooking& request, const std::string& settled) {
  auto result = runtime.handle("booking-" + id, request);
  REQUIRE_MESSAGE(result.ok(), result.error);
  auto status = [&] { return runtime.state_json("booking-" + id)["status"].get<std::string>(); };
  REQUIRE_MESSAGE(testing::eventually([&] { return status() == settled; }), "booking-" << id << " is " << status());
  return runtime.store().read_stream("booking-" + id).front().id;
}

// Every message of the three streams belongs to the chain the first command started.
void check_one_correlation(Runtime& runtime, const std::string& id, const std::string& correlation) {
  size_t messages = 0;
  for (const auto& stream : {"booking-" + id, "flight-" + id, "hotel-" + id})
    for (const auto& m : runtime.store().read_stream(stream)) {
      CHECK_MESSAGE(m.metadata.value("correlation_id", "") == correlation, m.type << " in " << stream);
      ++messages;
    }
  CHECK(runtime.store().read_correlation(correlation).size() == messages);
}

}  // namespace

TEST_CASE("both legs booked: the booking completes, one correlation id ties the chain, cairn trace prints it") {
  auto runtime = travel_runtime();
  runtime->start_consumers(testing::quiet_workers());
  auto first = book(*runtime, "b1", {"ann", "Lisbon", "2027-05-01", 7}, "completed");
  auto booking = runtime->load<Booking>("booking-b1");
  CHECK(booking.flight_reference == "FL-b1");
  CHECK(booking.hotel_reference == "HT-b1");
  CHECK(runtime->load<Reservation>("flight-b1").status == "booked");
  CHECK(runtime->load<Reservation>("hotel-b1").status == "booked");
  check_one_correlation(*runtime, "b1", first);

  if (testing::backend_is_postgres()) {
    auto trace = testing::run_process(CAIRN_CLI_PATH, {"--db", testing::backend_url(), "trace", first});
    CHECK(trace.exit_code == 0);
    for (const char* expected : {"travel.start_booking  booking-b1#1", "  travel.booking_started", "travel.book_flight  flight-b1",
                                 "travel.hotel_booked  hotel-b1", "travel.booking_completed  booking-b1"})
      CHECK_MESSAGE(trace.out.find(expected) != std::string::npos, expected << " in\n" << trace.out);
  }
  runtime->shutdown();
}

TEST_CASE("a failed leg fails the booking and cancels the other one") {
  auto runtime = travel_runtime();
  runtime->start_consumers(testing::quiet_workers());
  SUBCASE("the hotel fails: the flight is cancelled") {
    auto first = book(*runtime, "b2", {"bo", "Oslo", "2027-06-01", 21}, "compensated");
    auto booking = runtime->load<Booking>("booking-b2");
    CHECK(booking.failure == "hotel: hotels take at most 14 nights");
    CHECK(booking.flight == Leg::cancelled);
    CHECK(runtime->load<Reservation>("flight-b2").status == "cancelled");
    CHECK(runtime->load<Reservation>("hotel-b2").status == "failed");
    check_one_correlation(*runtime, "b2", first);
  }
  SUBCASE("the flight fails: the hotel is cancelled") {
    auto first = book(*runtime, "b3", {"cy", "Atlantis", "2027-06-01", 3}, "compensated");
    auto booking = runtime->load<Booking>("booking-b3");
    CHECK(booking.failure == "flight: no flights to Atlantis");
    CHECK(booking.hotel == Leg::cancelled);
    CHECK(runtime->load<Reservation>("hotel-b3").status == "cancelled");
    check_one_correlation(*runtime, "b3", first);
  }
  SUBCASE("both fail: nothing to cancel") {
    book(*runtime, "b4", {"di", "Atlantis", "2027-06-01", 30}, "compensated");
    CHECK(types_of(*runtime, "flight-b4") == std::vector<std::string>{"travel.book_flight", "travel.flight_booking_failed"});
    CHECK(types_of(*runtime, "hotel-b4") == std::vector<std::string>{"travel.book_hotel", "travel.hotel_booking_failed"});
  }
  runtime->shutdown();
}

TEST_CASE("a supplier that never answers: the scheduled deadline fails the booking and cancels the flight") {
  auto runtime = travel_runtime();
  runtime->start_consumers(testing::quiet_workers());
  // The deadline counts from the booking's start: 3 s leave the flight's answer room on a busy machine.
  auto first = book(*runtime, "b5", {"eve", "Limbo", "2027-03-01", 3, 3}, "failed");
  CHECK(testing::eventually([&] { return runtime->load<Booking>("booking-b5").flight == Leg::cancelled; }));
  auto booking = runtime->load<Booking>("booking-b5");
  CHECK(booking.failure == "no answer from the hotel in time");
  CHECK(booking.hotel == Leg::pending);
  CHECK(runtime->load<Reservation>("flight-b5").status == "cancelled");
  auto log = runtime->store().read_stream("booking-b5");
  auto deadline = std::find_if(log.begin(), log.end(), [](const Message& m) { return m.type == "travel.check_deadline"; });
  REQUIRE(deadline != log.end());
  CHECK(deadline->created_at - log.front().created_at >= std::chrono::seconds(3));  // not before its time
  check_one_correlation(*runtime, "b5", first);
  runtime->shutdown();
}
