// Indented JSON for people (`taskwatchd get`); machines get boost::json::serialize.
#pragma once

#include <boost/json/value.hpp>

#include <string>

namespace taskwatch {
std::string pretty_json(const boost::json::value& v, int indent = 2);
}
