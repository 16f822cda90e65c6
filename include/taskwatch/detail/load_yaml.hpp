// YAML::LoadAll without the endless loop of yaml-cpp 0.7 (Debian 12) on some malformed text.
#pragma once

#include <yaml-cpp/node/node.h>

#include <string_view>
#include <vector>

namespace taskwatch::detail {

/// The documents of `text`, as YAML::LoadAll gives them. yaml-cpp 0.7's LoadAll never returns
/// on text where a document consumes nothing (a line starting with ',' such as ",a ?: b";
/// fixed upstream by yaml-cpp PR #1319): that text throws YAML::ParserException here instead,
/// at the place the parser stopped. Other errors throw as from LoadAll.
std::vector<YAML::Node> load_all_yaml(std::string_view text);

} // namespace taskwatch::detail
