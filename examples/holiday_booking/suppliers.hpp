// The flight and hotel suppliers: each books (or fails to book) for one booking and reports back.
#pragma once

#include "messages.hpp"
#include <cairn/application.hpp>

namespace travel {

struct Reservation {
  std::string booking_id;
  std::string status = "none";  // none → booked | failed → cancelled
  std::string reference;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Reservation, booking_id, status, reference)

inline std::string booking_stream(const std::string& booking_id) { return "booking-" + booking_id; }

inline cairn::ActorDefinition<Reservation> flight_actor() {
  using cairn::Decision;
  return cairn::actor<Reservation>("flight")
      .decide<BookFlight>([](const Reservation& r, const BookFlight& c) -> Decision {
        if (r.status != "none") return cairn::reject("already_" + r.status, "the flight is already " + r.status);
        // A failure is an answer the booking must hear, so it is an event, not a rejection.
        if (c.destination == "Atlantis") return FlightBookingFailed{c.booking_id, "no flights to Atlantis"};
        return FlightBooked{c.booking_id, "FL-" + c.booking_id};
      })
      .decide<CancelFlight>([](const Reservation& r, const CancelFlight&) -> Decision {
        if (r.status != "booked") return cairn::reject("nothing_to_cancel", "no booked flight to cancel");
        return FlightCancelled{r.booking_id};
      })
      .evolve<FlightBooked>([](Reservation& r, const FlightBooked& e) {
        r = {e.booking_id, "booked", e.reference};
      })
      .evolve<FlightBookingFailed>([](Reservation& r, const FlightBookingFailed& e) { r = {e.booking_id, "failed", ""}; })
      .evolve<FlightCancelled>([](Reservation& r, const FlightCancelled&) { r.status = "cancelled"; })
      .react<FlightBooked>([](const FlightBooked& e) {
        return cairn::Commands{cairn::send(booking_stream(e.booking_id), ConfirmFlight{e.reference})};
      })
      .react<FlightBookingFailed>([](const FlightBookingFailed& e) {
        return cairn::Commands{cairn::send(booking_stream(e.booking_id), RejectFlight{e.reason})};
      })
      .react<FlightCancelled>([](const FlightCancelled& e) {
        return cairn::Commands{cairn::send(booking_stream(e.booking_id), ConfirmCancellation{"flight"})};
      });
}

inline cairn::ActorDefinition<Reservation> hotel_actor() {
  using cairn::Decision;
  return cairn::actor<Reservation>("hotel")
      .decide<BookHotel>([](const Reservation& r, const BookHotel& c) -> Decision {
        if (r.status != "none") return cairn::reject("already_" + r.status, "the hotel is already " + r.status);
        if (c.city == "Limbo") return {};  // its hotels' system is down: the request gets no answer
        if (c.nights > 14) return HotelBookingFailed{c.booking_id, "hotels take at most 14 nights"};
        return HotelBooked{c.booking_id, "HT-" + c.booking_id};
      })
      .decide<CancelHotel>([](const Reservation& r, const CancelHotel&) -> Decision {
        if (r.status != "booked") return cairn::reject("nothing_to_cancel", "no booked hotel to cancel");
        return HotelCancelled{r.booking_id};
      })
      .evolve<HotelBooked>([](Reservation& r, const HotelBooked& e) { r = {e.booking_id, "booked", e.reference}; })
      .evolve<HotelBookingFailed>([](Reservation& r, const HotelBookingFailed& e) { r = {e.booking_id, "failed", ""}; })
      .evolve<HotelCancelled>([](Reservation& r, const HotelCancelled&) { r.status = "cancelled"; })
      .react<HotelBooked>([](const HotelBooked& e) {
        return cairn::Commands{cairn::send(booking_stream(e.booking_id), ConfirmHotel{e.reference})};
      })
      .react<HotelBookingFailed>([](const HotelBookingFailed& e) {
        return cairn::Commands{cairn::send(booking_stream(e.booking_id), RejectHotel{e.reason})};
      })
      .react<HotelCancelled>([](const HotelCancelled& e) {
        return cairn::Commands{cairn::send(booking_stream(e.booking_id), ConfirmCancellation{"hotel"})};
      });
}

}  // namespace travel
