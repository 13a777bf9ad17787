// The holiday booking example with the test kit: the booking's decisions for every order of the
// suppliers' answers (several events per decision), its requests and compensations, and the
// suppliers' own rules; no runtime, no store.
#include <doctest/doctest.h>

#include <cairn/testing.hpp>

#include "examples/holiday_booking/booking.hpp"
#include "examples/holiday_booking/suppliers.hpp"

using cairn::testing::spec;
using namespace travel;

namespace {

const StartBooking rome{"ann", "Rome", "2027-01-01", 2};
const BookingStarted started{"ann", "Rome", "2027-01-01", 2, 3600};

auto booking() { return spec(booking_actor(), "booking-x"); }
auto pending() { return booking().given(started); }
auto failed_with_flight_booked() {
  return pending().given(FlightConfirmed{"FL-x"}, HotelRejected{"full"}, BookingFailed{"hotel: full"},
                         CancellationRequested{"flight"});
}

}  // namespace

TEST_CASE("travel: a booking starts once, with a traveller, a destination, a date and nights") {
  booking().when(rome).then(started);
  pending().when(rome).then_rejected("booking_started", "booking x already started");
  booking().when(StartBooking{"", "Rome", "2027-01-01", 2}).then_rejected("traveller_missing", "");
  booking().when(StartBooking{"ann", "", "2027-01-01", 2}).then_rejected("destination_missing", "");
  booking().when(StartBooking{"ann", "Rome", "soon", 2}).then_rejected("date_invalid", "date must be YYYY-MM-DD");
  booking().when(StartBooking{"ann", "Rome", "2027-01-01", 0}).then_rejected("nights_not_positive", "nights must be positive");
  booking().when(StartBooking{"ann", "Rome", "2027-01-01", 2, 0}).then_rejected("answer_within_not_positive", "");
}

TEST_CASE("travel: starting asks the flight and the hotel at once, and schedules the deadline") {
  booking()
      .reacting_to(started)
      .then_sends(cairn::send("flight-x", BookFlight{"x", "ann", "Rome", "2027-01-01"}),
                  cairn::send("hotel-x", BookHotel{"x", "ann", "Rome", "2027-01-01", 2}),
                  cairn::send("booking-x", CheckDeadline{}).after(std::chrono::seconds(3600)));
  pending().reacting_to(CancellationRequested{"hotel"}).then_sends(cairn::send("hotel-x", CancelHotel{"booking failed"}));
}

TEST_CASE("travel: both answers yes completes the booking, in either order") {
  auto flight_first = pending();
  flight_first.when(ConfirmFlight{"FL-x"}).then(FlightConfirmed{"FL-x"});
  flight_first.when(ConfirmHotel{"HT-x"}).then(HotelConfirmed{"HT-x"}, BookingCompleted{});
  CHECK(flight_first.state().status == "completed");
  auto hotel_first = pending().given(HotelConfirmed{"HT-x"});
  hotel_first.when(ConfirmFlight{"FL-x"}).then(FlightConfirmed{"FL-x"}, BookingCompleted{});
  hotel_first.when(CheckDeadline{}).then_nothing();  // settled already: the deadline changes nothing
}

TEST_CASE("travel: a no fails the booking and cancels what was booked, whenever it was booked") {
  // The hotel fails first; the flight booked afterwards must be cancelled.
  auto x = pending();
  x.when(RejectHotel{"full"}).then(HotelRejected{"full"}, BookingFailed{"hotel: full"});
  x.when(ConfirmFlight{"FL-x"}).then(FlightConfirmed{"FL-x"}, CancellationRequested{"flight"});
  x.when(ConfirmCancellation{"flight"}).then(CancellationConfirmed{"flight"}, BookingCompensated{});
  CHECK(x.state().status == "compensated");
  // The flight is booked first; the hotel failing then cancels it.
  auto y = pending().given(FlightConfirmed{"FL-x"});
  y.when(RejectHotel{"full"}).then(HotelRejected{"full"}, BookingFailed{"hotel: full"}, CancellationRequested{"flight"});
  CHECK(y.state().flight == Leg::cancelling);
  // Both fail: nothing to cancel.
  pending()
      .given(FlightRejected{"none"}, BookingFailed{"flight: none"})
      .when(RejectHotel{"full"})
      .then(HotelRejected{"full"}, BookingCompensated{});
}

TEST_CASE("travel: the deadline fails a booking still waiting, naming the supplier that is silent") {
  auto waiting_for_hotel = pending().given(FlightConfirmed{"FL-x"});
  waiting_for_hotel.when(CheckDeadline{})
      .then(BookingFailed{"no answer from the hotel in time"}, CancellationRequested{"flight"});
  pending().when(CheckDeadline{}).then(BookingFailed{"no answer from the flight in time"});
}

TEST_CASE("travel: late, repeated and unexpected answers are refused") {
  booking().when(ConfirmFlight{"FL-x"}).then_rejected("no_booking", "no booking x");
  failed_with_flight_booked().when(RejectHotel{"full"}).then_rejected("already_answered", "the hotel has already answered");
  failed_with_flight_booked().when(ConfirmFlight{"FL-2"}).then_rejected("already_answered", "the flight has already answered");
  failed_with_flight_booked()
      .when(ConfirmCancellation{"hotel"})
      .then_rejected("no_cancellation_pending", "no hotel cancellation pending");
  failed_with_flight_booked().when(ConfirmCancellation{"boat"}).then_rejected("what_invalid", "");
}

TEST_CASE("travel: the suppliers book once, fail as an answer, and report back to the booking") {
  auto flight = spec(flight_actor(), "flight-x");
  flight.when(BookFlight{"x", "ann", "Rome", "2027-01-01"}).then(FlightBooked{"x", "FL-x"});
  flight.when(BookFlight{"x", "ann", "Rome", "2027-01-01"}).then_rejected("already_booked", "the flight is already booked");
  flight.reacting_to(FlightBooked{"x", "FL-x"}).then_sends(cairn::send("booking-x", ConfirmFlight{"FL-x"}));
  flight.when(CancelFlight{"booking failed"}).then(FlightCancelled{"x"});
  flight.reacting_to(FlightCancelled{"x"}).then_sends(cairn::send("booking-x", ConfirmCancellation{"flight"}));
  spec(flight_actor()).when(CancelFlight{"why not"}).then_rejected("nothing_to_cancel", "no booked flight to cancel");
  spec(flight_actor())
      .when(BookFlight{"x", "ann", "Atlantis", "2027-01-01"})
      .then(FlightBookingFailed{"x", "no flights to Atlantis"})
      .reacting_to(FlightBookingFailed{"x", "no flights to Atlantis"})
      .then_sends(cairn::send("booking-x", RejectFlight{"no flights to Atlantis"}));

  auto hotel = spec(hotel_actor(), "hotel-x");
  hotel.when(BookHotel{"x", "ann", "Oslo", "2027-06-01", 21}).then(HotelBookingFailed{"x", "hotels take at most 14 nights"});
  hotel.reacting_to(HotelBookingFailed{"x", "hotels take at most 14 nights"})
      .then_sends(cairn::send("booking-x", RejectHotel{"hotels take at most 14 nights"}));
  spec(hotel_actor()).when(BookHotel{"x", "ann", "Limbo", "2027-06-01", 2}).then_nothing();  // never answers
  spec(hotel_actor()).when(BookHotel{"x", "ann", "Oslo", "2027-06-01", 2}).then(HotelBooked{"x", "HT-x"});
}
