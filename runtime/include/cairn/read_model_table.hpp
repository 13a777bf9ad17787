// A table of a consumer's read model, as `cairn migrate --app` creates it and `cairn grants` opens it.
#pragma once

#include <string>

namespace cairn {

struct ReadModelTable {
  std::string name;  // schema-qualified, e.g. "public.bank_balances"
  std::string ddl;   // e.g. "CREATE TABLE IF NOT EXISTS public.bank_balances (...)"; may hold several statements
};

}  // namespace cairn
