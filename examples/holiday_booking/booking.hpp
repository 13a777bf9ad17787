// The booking workflow: starting a booking asks for a flight and a hotel at once; the booking
// completes when both are booked, or fails and cancels whatever was booked (compensation).
#pragma once

#include "messages.hpp"
#include <cairn/application.hpp>

namespace travel {

enum class Leg { pending, booked, rejected, cancelling, cancelled };
NLOHMANN_JSON_SERIALIZE_ENUM(Leg, {{Leg::pending, "pending"},
                                   {Leg::booked, "booked"},
                                   {Leg::rejected, "rejected"},
                                   {Leg::cancelling, "cancelling"},
                                   {Leg::cancelled, "cancelled"}})

struct Booking {
  std::string booking_id;
  std::string status = "new";  // new → pending → completed | failed → compensated
  Leg flight = Leg::pending;
  Leg hotel = Leg::pending;
  std::string flight_reference, hotel_reference, failure;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Booking, booking_id, status, flight, hotel, flight_reference, hotel_reference, failure)

inline const std::string booking_prefix = "booking-";

// evolve, one overload per event
inline void apply(Booking& b, const BookingStarted&) { b.status = "pending"; }
inline void apply(Booking& b, const FlightConfirmed& e) {
  b.flight = Leg::booked;
  b.flight_reference = e.reference;
}
inline void apply(Booking& b, const HotelConfirmed& e) {
  b.hotel = Leg::booked;
  b.hotel_reference = e.reference;
}
inline void apply(Booking& b, const FlightRejected&) { b.flight = Leg::rejected; }
inline void apply(Booking& b, const HotelRejected&) { b.hotel = Leg::rejected; }
inline void apply(Booking& b, const BookingCompleted&) { b.status = "completed"; }
inline void apply(Booking& b, const BookingFailed& e) {
  b.status = "failed";
  b.failure = e.reason;
}
inline void apply(Booking& b, const CancellationRequested& e) { (e.what == "flight" ? b.flight : b.hotel) = Leg::cancelling; }
inline void apply(Booking& b, const CancellationConfirmed& e) { (e.what == "flight" ? b.flight : b.hotel) = Leg::cancelled; }
inline void apply(Booking& b, const BookingCompensated&) { b.status = "compensated"; }

// After an answer (its event emitted): complete, fail (cancelling what was booked), or finish
// compensating. Each step reads the state the events emitted before it produced.
inline void settle(cairn::Multi<Booking>& booking, const std::string& failure) {
  const Booking& b = booking.state();  // follows each emit
  auto cancel_if_booked = [&](Leg leg, const char* what) {
    if (leg == Leg::booked) booking.emit(CancellationRequested{what});
  };
  if (b.status == "pending" && b.flight == Leg::booked && b.hotel == Leg::booked) booking.emit(BookingCompleted{});
  if (b.status == "pending" && !failure.empty()) booking.emit(BookingFailed{failure});
  if (b.status == "failed") {
    cancel_if_booked(b.flight, "flight");
    cancel_if_booked(b.hotel, "hotel");
    auto open = [](Leg leg) { return leg == Leg::pending || leg == Leg::cancelling; };
    if (!open(b.flight) && !open(b.hotel)) booking.emit(BookingCompensated{});
  }
}

inline cairn::ActorDefinition<Booking> booking_actor() {
  using cairn::Decision;
  using cairn::reject;
  // Whether the booking waits for this supplier's answer; when it does not, rejects the answer.
  auto awaits = [](Leg Booking::*leg, const char* what) {
    return [leg, what](cairn::Multi<Booking>& booking) {
      const Booking& b = booking.state();
      if (b.status == "new")
        booking.reject("no_booking", "no booking " + b.booking_id);
      else if (b.*leg != Leg::pending)
        booking.reject("already_answered", std::string("the ") + what + " has already answered");
      return !booking.rejected();
    };
  };
  auto awaits_flight = awaits(&Booking::flight, "flight");
  auto awaits_hotel = awaits(&Booking::hotel, "hotel");
  auto by_apply = [](Booking& b, const auto& event) { apply(b, event); };
  return cairn::actor<Booking>("booking")
      .initial([](const std::string& stream_id) {
        Booking b;
        b.booking_id = stream_id.substr(booking_prefix.size());
        return b;
      })
      .decide<StartBooking>([](const Booking& b, const StartBooking& c) -> Decision {
        if (b.status != "new") return reject("booking_started", "booking " + b.booking_id + " already started");
        if (c.traveller.empty()) return reject("traveller_missing", "traveller must not be empty");
        if (c.destination.empty()) return reject("destination_missing", "destination must not be empty");
        if (c.date.size() != 10) return reject("date_invalid", "date must be YYYY-MM-DD");
        if (c.nights <= 0) return reject("nights_not_positive", "nights must be positive");
        int within = c.answer_within_seconds.value_or(3600);
        if (within <= 0) return reject("answer_within_not_positive", "answer_within_seconds must be positive");
        return BookingStarted{c.traveller, c.destination, c.date, c.nights, within};
      })
      // An answer: its event, then what the state after it calls for.
      .decide<ConfirmFlight>([awaits_flight](cairn::Multi<Booking>& b, const ConfirmFlight& c) {
        if (awaits_flight(b)) settle(b.emit(FlightConfirmed{c.reference}), "");
      })
      .decide<RejectFlight>([awaits_flight](cairn::Multi<Booking>& b, const RejectFlight& c) {
        if (awaits_flight(b)) settle(b.emit(FlightRejected{c.reason}), "flight: " + c.reason);
      })
      .decide<ConfirmHotel>([awaits_hotel](cairn::Multi<Booking>& b, const ConfirmHotel& c) {
        if (awaits_hotel(b)) settle(b.emit(HotelConfirmed{c.reference}), "");
      })
      .decide<RejectHotel>([awaits_hotel](cairn::Multi<Booking>& b, const RejectHotel& c) {
        if (awaits_hotel(b)) settle(b.emit(HotelRejected{c.reason}), "hotel: " + c.reason);
      })
      // The suppliers had their time: a booking still waiting for one fails (and cancels what was booked).
      .decide<CheckDeadline>([](cairn::Multi<Booking>& b, const CheckDeadline&) {
        if (b.state().status != "pending") return;
        auto silent = b.state().flight == Leg::pending ? "flight" : "hotel";
        settle(b, std::string("no answer from the ") + silent + " in time");
      })
      .decide<ConfirmCancellation>([](cairn::Multi<Booking>& b, const ConfirmCancellation& c) {
        if (c.what != "flight" && c.what != "hotel") return b.reject("what_invalid", "what must be flight or hotel");
        if ((c.what == "flight" ? b.state().flight : b.state().hotel) != Leg::cancelling)
          return b.reject("no_cancellation_pending", "no " + c.what + " cancellation pending");
        settle(b.emit(CancellationConfirmed{c.what}), "");
      })
      .evolve<BookingStarted>(by_apply)
      .evolve<FlightConfirmed>(by_apply)
      .evolve<FlightRejected>(by_apply)
      .evolve<HotelConfirmed>(by_apply)
      .evolve<HotelRejected>(by_apply)
      .evolve<BookingCompleted>(by_apply)
      .evolve<BookingFailed>(by_apply)
      .evolve<CancellationRequested>(by_apply)
      .evolve<CancellationConfirmed>(by_apply)
      .evolve<BookingCompensated>(by_apply)
      // Both requests leave at once: the flight and the hotel streams work concurrently. A
      // deadline check is scheduled (a durable, delayed command) in case one never answers.
      .react<BookingStarted>([](const BookingStarted& e, const cairn::Message& event) {
        auto id = event.stream_id.substr(booking_prefix.size());
        return cairn::Commands{
            cairn::send("flight-" + id, BookFlight{id, e.traveller, e.destination, e.date}),
            cairn::send("hotel-" + id, BookHotel{id, e.traveller, e.destination, e.date, e.nights}),
            cairn::send(event.stream_id, CheckDeadline{}).after(std::chrono::seconds(e.answer_within_seconds))};
      })
      .react<CancellationRequested>([](const CancellationRequested& e, const cairn::Message& event) {
        auto id = event.stream_id.substr(booking_prefix.size());
        if (e.what == "flight") return cairn::Commands{cairn::send("flight-" + id, CancelFlight{"booking failed"})};
        return cairn::Commands{cairn::send("hotel-" + id, CancelHotel{"booking failed"})};
      });
}

}  // namespace travel
