// Indented JSON for people (`taskwatchd get`); machines get boost::json::serialize.
#pragma once

#include <boost/json/value.hpp>

#include <string>

namespace taskwatch {
std::string pretty_json(const boost::json::value& v, int indent = 2);
/// The same numbers ("0.42", not Boost's "4.2E-1") without any whitespace: for HTTP APIs.
std::string compact_json(const boost::json::value& v);
}
