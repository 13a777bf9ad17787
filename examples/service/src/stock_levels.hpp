// The stock levels read model: per item, what is on hand and how much came in and went out.
#pragma once

#include <cstdint>
#include <memory>

#include <cairn/cairn.hpp>

#include "item.hpp"

namespace inventory {

struct StockLevel {
  int64_t on_hand = 0;
  int64_t received = 0;
  int64_t shipped = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(StockLevel, on_hand, received, shipped)

// One view per item stream, keyed by its stream id (item-<sku>): an event-sourced projector, since
// each view is the fold of one stream. A view fed by many streams would be a cairn::projector.
inline std::shared_ptr<cairn::StreamProjector<StockLevel>> stock_levels() {
  auto levels = cairn::stream_projector<StockLevel>("inventory.stock_levels");
  levels->on<Received>([](StockLevel& level, const Received& e, const cairn::Message&) {
    level.on_hand += e.quantity;
    level.received += e.quantity;
  });
  levels->on<Shipped>([](StockLevel& level, const Shipped& e, const cairn::Message&) {
    level.on_hand -= e.quantity;
    level.shipped += e.quantity;
  });
  return levels;
}

}  // namespace inventory
