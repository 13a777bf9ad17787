// The holiday booking example as an application module (for cairn-worker and the CLI's --app).
#include "booking.hpp"
#include "suppliers.hpp"

CAIRN_MODULE(app) {
  app.add(travel::booking_actor()).add(travel::flight_actor()).add(travel::hotel_actor());
}
