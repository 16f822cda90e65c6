// JSON bodies of the simulator, built independently of any client-side model so that
// a misreading shared by client and simulator cannot hide.
#pragma once

#include "taskwatch/sim/model.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>

namespace taskwatch::sim {

/// The GET-one-task body, shaped like the seed's response example (plus task_id, task_name,
/// and error_code/error_msg when set).
boost::json::object task_json(const sim_task& t);
/// One element of the list API's `tasks`: the GET shape plus dataset_id, type and the flat counts.
boost::json::object task_list_item_json(const sim_task& t);
/// The GET body, serialized once per task version.
const std::string& task_body(sim_task& t);

/// Serializes like the real service: doubles keep a decimal point ("10.0", not Boost.JSON's
/// "1E1"), so clients meet the number spelling they will see in production.
std::string to_text(const boost::json::value& v);
void append_text(std::string& out, const boost::json::value& v);

} // namespace taskwatch::sim
