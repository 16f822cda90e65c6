// JSON form of events as the outbox stores them (not the webhook body: notify builds that).
#pragma once

#include "taskwatch/detail/expected.hpp"
#include "taskwatch/task/types.hpp"

#include <boost/json/value.hpp>

#include <string>

namespace taskwatch::state {

/// {"status":"running","status_code":1,"progress":0.42,"code":..,"message":..,"error_code":..,
///  "error_msg":.., (status "unknown" for a code outside -1..5; status, status_code and
///  progress null when the API has not sent
///  them)"total_sample_count":n|null,"annotated_sample_count":.., "unconfirmed_sample_count":..}
boost::json::value to_json(const task::snapshot& s);
/// {"reason":..,"error_code":..,"error_msg":..,"request_id":..}
boost::json::value to_json(const task::poll_error& e);
/// {"id":..,"type":"task.status_changed","time_ms":<ms since epoch>,"project_id":..,
///  "dataset_id":..,"task_id":..,"task_name":..,"previous":snapshot|null,"current":..,
///  "error":poll_error|null}
boost::json::value to_json(const task::event& e);

/// The inverses; the error names the first member that is missing or of the wrong type.
expected<task::snapshot, std::string> snapshot_from_json(const boost::json::value& v);
expected<task::poll_error, std::string> poll_error_from_json(const boost::json::value& v);
expected<task::event, std::string> event_from_json(const boost::json::value& v);

} // namespace taskwatch::state
