// Holiday booking messages: a booking asks a flight and a hotel stream, which answer back.
#pragma once

#include <optional>
#include <string>

#include <cairn/message_type.hpp>

namespace travel {

// Commands to the booking ("booking-<id>")
struct StartBooking {
  std::string traveller;
  std::string destination;
  std::string date;  // of departure, YYYY-MM-DD
  int nights = 0;
  std::optional<int> answer_within_seconds = std::nullopt;  // then the booking gives up (default: an hour)
};
struct ConfirmFlight {
  std::string reference;
};
struct RejectFlight {
  std::string reason;
};
struct ConfirmHotel {
  std::string reference;
};
struct RejectHotel {
  std::string reason;
};
struct ConfirmCancellation {
  std::string what;  // "flight" or "hotel"
};
struct CheckDeadline {};  // scheduled when the booking starts

// Commands to the flight ("flight-<id>") and the hotel ("hotel-<id>") of booking <id>
struct BookFlight {
  std::string booking_id;
  std::string traveller;
  std::string destination;
  std::string date;
};
struct BookHotel {
  std::string booking_id;
  std::string traveller;
  std::string city;
  std::string date;
  int nights = 0;
};
struct CancelFlight {
  std::string reason;
};
struct CancelHotel {
  std::string reason;
};

// Events of the booking
struct BookingStarted {
  std::string traveller;
  std::string destination;
  std::string date;
  int nights = 0;
  int answer_within_seconds = 3600;
};
struct FlightConfirmed {
  std::string reference;
};
struct FlightRejected {
  std::string reason;
};
struct HotelConfirmed {
  std::string reference;
};
struct HotelRejected {
  std::string reason;
};
struct BookingCompleted {};
struct BookingFailed {
  std::string reason;
};
struct CancellationRequested {
  std::string what;
};
struct CancellationConfirmed {
  std::string what;
};
struct BookingCompensated {};  // failed, and nothing booked is left standing

// Events of a flight or a hotel
struct FlightBooked {
  std::string booking_id;
  std::string reference;
};
struct FlightBookingFailed {
  std::string booking_id;
  std::string reason;
};
struct FlightCancelled {
  std::string booking_id;
};
struct HotelBooked {
  std::string booking_id;
  std::string reference;
};
struct HotelBookingFailed {
  std::string booking_id;
  std::string reason;
};
struct HotelCancelled {
  std::string booking_id;
};

}  // namespace travel

CAIRN_MESSAGE(travel::StartBooking, "travel.start_booking", 1, traveller, destination, date, nights, answer_within_seconds)
CAIRN_MESSAGE(travel::ConfirmFlight, "travel.confirm_flight", 1, reference)
CAIRN_MESSAGE(travel::RejectFlight, "travel.reject_flight", 1, reason)
CAIRN_MESSAGE(travel::ConfirmHotel, "travel.confirm_hotel", 1, reference)
CAIRN_MESSAGE(travel::RejectHotel, "travel.reject_hotel", 1, reason)
CAIRN_MESSAGE(travel::ConfirmCancellation, "travel.confirm_cancellation", 1, what)
CAIRN_MESSAGE(travel::CheckDeadline, "travel.check_deadline", 1)
CAIRN_MESSAGE(travel::BookFlight, "travel.book_flight", 1, booking_id, traveller, destination, date)
CAIRN_MESSAGE(travel::BookHotel, "travel.book_hotel", 1, booking_id, traveller, city, date, nights)
CAIRN_MESSAGE(travel::CancelFlight, "travel.cancel_flight", 1, reason)
CAIRN_MESSAGE(travel::CancelHotel, "travel.cancel_hotel", 1, reason)
CAIRN_MESSAGE(travel::BookingStarted, "travel.booking_started", 1, traveller, destination, date, nights,
              answer_within_seconds)
CAIRN_MESSAGE(travel::FlightConfirmed, "travel.flight_confirmed", 1, reference)
CAIRN_MESSAGE(travel::FlightRejected, "travel.flight_rejected", 1, reason)
CAIRN_MESSAGE(travel::HotelConfirmed, "travel.hotel_confirmed", 1, reference)
CAIRN_MESSAGE(travel::HotelRejected, "travel.hotel_rejected", 1, reason)
CAIRN_MESSAGE(travel::BookingCompleted, "travel.booking_completed", 1)
CAIRN_MESSAGE(travel::BookingFailed, "travel.booking_failed", 1, reason)
CAIRN_MESSAGE(travel::CancellationRequested, "travel.cancellation_requested", 1, what)
CAIRN_MESSAGE(travel::CancellationConfirmed, "travel.cancellation_confirmed", 1, what)
CAIRN_MESSAGE(travel::BookingCompensated, "travel.booking_compensated", 1)
CAIRN_MESSAGE(travel::FlightBooked, "travel.flight_booked", 1, booking_id, reference)
CAIRN_MESSAGE(travel::FlightBookingFailed, "travel.flight_booking_failed", 1, booking_id, reason)
CAIRN_MESSAGE(travel::FlightCancelled, "travel.flight_cancelled", 1, booking_id)
CAIRN_MESSAGE(travel::HotelBooked, "travel.hotel_booked", 1, booking_id, reference)
CAIRN_MESSAGE(travel::HotelBookingFailed, "travel.hotel_booking_failed", 1, booking_id, reason)
CAIRN_MESSAGE(travel::HotelCancelled, "travel.hotel_cancelled", 1, booking_id)
