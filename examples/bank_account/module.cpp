// The bank_account example as an application module (for cairn-worker and `cairn handle --app`).
#include "account.hpp"

CAIRN_MODULE(app) {
  app.add(bank::account_actor());
  app.add(bank::balances_projector());
}
