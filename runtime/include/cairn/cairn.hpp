// Cairn in one include: messages, actors, projectors, consumers, application modules and the Runtime.
// The SQL projector (<cairn/sql_projector.hpp>, which brings libpqxx) and the test kit
// (<cairn/testing.hpp>, <cairn/testing_sql.hpp>) are included on their own.
#pragma once

#include <cairn/actor_definition.hpp>
#include <cairn/application.hpp>
#include <cairn/config.hpp>
#include <cairn/consumer.hpp>
#include <cairn/decision.hpp>
#include <cairn/errors.hpp>
#include <cairn/handle_result.hpp>
#include <cairn/log.hpp>
#include <cairn/message.hpp>
#include <cairn/message_type.hpp>
#include <cairn/metrics.hpp>
#include <cairn/projector.hpp>
#include <cairn/runtime.hpp>
#include <cairn/stream_projector.hpp>
#include <cairn/version.hpp>
