// The booking workflow: starting a booking asks for a flight and a hotel at once; the booking
// completes when both are booked, or fails and cancels whatever was booked (compensation).
#pragma once

#include "examples/holiday_booking/messages.hpp"
#include "runtime/application.hpp"

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

// evolve, one overload per event, also used by decide to look one event ahead
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

// The events a supplier's answer leads to, applied to a copy of the state as they are decided.
class Outcome {
 public:
  explicit Outcome(Booking b) : next_(std::move(b)) {}
  template <class E>
  Outcome& add(const E& event) {
    apply(next_, event);
    decision_.then(event);
    return *this;
  }
  // After an answer: complete, fail (cancelling what was booked), or finish compensating.
  cairn::Decision settle(const std::string& failure) {
    auto cancel_if_booked = [&](Leg leg, const char* what) {
      if (leg == Leg::booked) add(CancellationRequested{what});
    };
    if (next_.status == "pending" && next_.flight == Leg::booked && next_.hotel == Leg::booked) add(BookingCompleted{});
    if (next_.status == "pending" && !failure.empty()) add(BookingFailed{failure});
    if (next_.status == "failed") {
      cancel_if_booked(next_.flight, "flight");
      cancel_if_booked(next_.hotel, "hotel");
      auto open = [](Leg leg) { return leg == Leg::pending || leg == Leg::cancelling; };
      if (!open(next_.flight) && !open(next_.hotel)) add(BookingCompensated{});
    }
    return std::move(decision_);
  }

 private:
  Booking next_;
  cairn::Decision decision_;
};

inline cairn::ActorDefinition<Booking> booking_actor() {
  using cairn::Decision;
  using cairn::reject;
  auto answer = [](Leg Booking::*leg, const char* what) {
    return [leg, what](const Booking& b) -> std::optional<std::string> {
      if (b.status == "new") return "no booking " + b.booking_id;
      if (b.*leg != Leg::pending) return std::string("the ") + what + " has already answered";
      return std::nullopt;
    };
  };
  auto flight_answer = answer(&Booking::flight, "flight");
  auto hotel_answer = answer(&Booking::hotel, "hotel");
  auto by_apply = [](Booking& b, const auto& event) { apply(b, event); };
  return cairn::actor<Booking>("booking")
      .initial([](const std::string& stream_id) {
        Booking b;
        b.booking_id = stream_id.substr(booking_prefix.size());
        return b;
      })
      .decide<StartBooking>([](const Booking& b, const StartBooking& c) -> Decision {
        if (b.status != "new") return reject("booking_started", "booking " + b.booking_id + " already started");
        if (c.traveller.empty()) return reject("traveller must not be empty");
        if (c.destination.empty()) return reject("destination must not be empty");
        if (c.date.size() != 10) return reject("date must be YYYY-MM-DD");
        if (c.nights <= 0) return reject("nights must be positive");
        int within = c.answer_within_seconds.value_or(3600);
        if (within <= 0) return reject("answer_within_seconds must be positive");
        return BookingStarted{c.traveller, c.destination, c.date, c.nights, within};
      })
      .decide<ConfirmFlight>([flight_answer](const Booking& b, const ConfirmFlight& c) -> Decision {
        if (auto why = flight_answer(b)) return reject(*why);
        return Outcome(b).add(FlightConfirmed{c.reference}).settle("");
      })
      .decide<RejectFlight>([flight_answer](const Booking& b, const RejectFlight& c) -> Decision {
        if (auto why = flight_answer(b)) return reject(*why);
        return Outcome(b).add(FlightRejected{c.reason}).settle("flight: " + c.reason);
      })
      .decide<ConfirmHotel>([hotel_answer](const Booking& b, const ConfirmHotel& c) -> Decision {
        if (auto why = hotel_answer(b)) return reject(*why);
        return Outcome(b).add(HotelConfirmed{c.reference}).settle("");
      })
      .decide<RejectHotel>([hotel_answer](const Booking& b, const RejectHotel& c) -> Decision {
        if (auto why = hotel_answer(b)) return reject(*why);
        return Outcome(b).add(HotelRejected{c.reason}).settle("hotel: " + c.reason);
      })
      // The suppliers had their time: a booking still waiting for one fails (and cancels what was booked).
      .decide<CheckDeadline>([](const Booking& b, const CheckDeadline&) -> Decision {
        if (b.status != "pending") return {};
        auto silent = b.flight == Leg::pending ? "flight" : "hotel";
        return Outcome(b).settle(std::string("no answer from the ") + silent + " in time");
      })
      .decide<ConfirmCancellation>([](const Booking& b, const ConfirmCancellation& c) -> Decision {
        if (c.what != "flight" && c.what != "hotel") return reject("what must be flight or hotel");
        if ((c.what == "flight" ? b.flight : b.hotel) != Leg::cancelling) return reject("no " + c.what + " cancellation pending");
        return Outcome(b).add(CancellationConfirmed{c.what}).settle("");
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
