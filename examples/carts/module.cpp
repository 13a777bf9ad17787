// The carts example as an application module (for cairn-worker and `cairn handle --app`).
#include "cart.hpp"

CAIRN_MODULE(app) {
  app.add(carts::cart_actor()).add(orders::order_actor());
}
