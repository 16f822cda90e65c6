// ModelArts auto-labeling task as typed C++ values, and Boost.JSON conversions both ways.
//
// Mirrors "Obtaining Details About an Auto Labeling Task" (GET /v2/{project_id}/datasets/
// {dataset_id}/tasks/{task_id}, Data Management (Old Version)); table numbers below are that
// page's. Every field is optional: a missing key or a JSON null is "absent", never an error,
// because the API leaves out whatever does not apply to a task's kind or stage.
//
// Parsing is strict about types and reports the JSON path of the first offending value
// ("config.inf_config_list[2].weight: expected integer, got string"); unknown keys are ignored.
// One exception: the task's `status`. A code outside -1..5 (a status added to the API later)
// is kept as it is, and a value that is not an integer reads as absent, so that one field the
// API changed does not cost the poll the task's other fields.
// Numbers are read leniently where the meaning cannot change: an integer where a Float is
// documented, and a float with an integral value (49.0) where an Integer is documented.
// A string is never taken for a number.
//
// All functions are pure and thread-compatible; values use the default memory resource.
#pragma once

#include "taskwatch/detail/expected.hpp"
#include "taskwatch/detail/name_table.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace taskwatch::modelarts {

/// Table 2 `status`. The underlying values are the API's codes. Open: any other code the API
/// sends (a status added after this was written) is kept as its value; is_known() tells.
enum class task_status : std::int64_t {
    queuing = -1,
    initializing = 0,
    running = 1,
    failed = 2,
    succeeded = 3,
    stopping = 4,
    stopped = 5,
};

/// The seven documented statuses and their names, in code order: with "unknown" (any other
/// code), the `status` label values of modelarts_task_status and the API's `status`.
inline constexpr detail::enum_name<task_status> task_status_names[] = {
    {task_status::queuing, "queuing"},     {task_status::initializing, "initializing"},
    {task_status::running, "running"},     {task_status::failed, "failed"},
    {task_status::succeeded, "succeeded"}, {task_status::stopping, "stopping"},
    {task_status::stopped, "stopped"},
};
static_assert(detail::in_enum_order(task_status_names));
/// The name in task_status_names, or "unknown".
std::string_view to_string(task_status s) noexcept;
/// The API's integer code.
constexpr std::int64_t to_code(task_status s) noexcept {
    return static_cast<std::int64_t>(s);
}
/// One of the seven documented statuses (-1..5).
constexpr bool is_known(task_status s) noexcept {
    return !detail::name_in(task_status_names, s, {}).empty();
}
/// nullopt for anything outside -1..5.
std::optional<task_status> task_status_from_code(std::int64_t code) noexcept;
/// failed, succeeded and stopped: the task will not change any more by itself (an unknown
/// status is not terminal).
bool is_terminal(task_status s) noexcept;

/// Map<String,Array<String>> of Tables 7 and 8. A null value list is kept as nullopt because
/// Table 7 gives it a meaning of its own ("the search is not performed by value").
using string_list_map = std::map<std::string, std::optional<std::vector<std::string>>>;

/// Table 9 Flavor.
struct flavor {
    std::optional<std::string> code;
    bool operator==(const flavor&) const = default;
};

/// Table 10 InfConfig.
struct inf_config {
    std::optional<std::map<std::string, std::string>> envs;
    std::optional<std::int64_t> instance_count;
    std::optional<std::string> model_id;
    std::optional<std::string> specification;
    std::optional<std::int64_t> weight;
    bool operator==(const inf_config&) const = default;
};

/// Table 11 TrainingParameter.
struct training_parameter {
    std::optional<std::string> label;
    std::optional<std::string> value;
    bool operator==(const training_parameter&) const = default;
};

/// Table 7 SearchLabel.
struct search_label {
    std::optional<std::string> name;
    std::optional<std::string> op;
    std::optional<string_list_map> property;
    std::optional<std::int64_t> type;
    bool operator==(const search_label&) const = default;
};

/// Table 6 SearchLabels.
struct search_labels {
    std::optional<std::vector<search_label>> labels;
    std::optional<std::string> op;
    bool operator==(const search_labels&) const = default;
};

/// Table 8 SearchProp.
struct search_prop {
    std::optional<std::string> op;
    std::optional<string_list_map> props;
    bool operator==(const search_prop&) const = default;
};

/// Table 5 SearchCondition.
struct search_condition {
    std::optional<std::string> coefficient;
    std::optional<std::int64_t> frame_in_video;
    std::optional<std::string> hard;
    std::optional<std::string> import_origin;
    std::optional<std::string> kvp;
    std::optional<search_labels> label_list;
    std::optional<std::string> labeler;
    std::optional<search_prop> metadata;
    std::optional<std::string> parent_sample_id;
    std::optional<std::string> sample_dir;
    std::optional<std::string> sample_name;
    std::optional<std::string> sample_time;
    std::optional<std::string> score;
    std::optional<std::string> slice_thickness;
    std::optional<std::string> study_date;
    std::optional<std::string> time_in_video;
    bool operator==(const search_condition&) const = default;
};

/// Table 4 ExportParams.
struct export_params {
    std::optional<bool> clear_hard_property;
    std::optional<std::string> export_dataset_version_format;
    std::optional<std::string> export_dataset_version_name;
    std::optional<std::string> export_dest;
    std::optional<std::string> export_new_dataset_name;
    std::optional<std::string> export_new_dataset_work_path;
    std::optional<bool> ratio_sample_usage;
    std::optional<std::string> sample_state;
    std::optional<std::vector<std::string>> samples;
    std::optional<std::vector<search_condition>> search_conditions;
    std::optional<std::string> train_sample_ratio;
    bool operator==(const export_params&) const = default;
};

/// Table 17 SampleLabelProperty: the `@modelarts:<name>` keys as `modelarts_<name>`. Labels
/// carry arbitrary user properties too; those are kept verbatim in `extra` (a null is kept
/// there as a null). On output a known member wins over an `extra` entry of the same key.
struct sample_label_property {
    std::optional<std::string> modelarts_content;
    std::optional<std::int64_t> modelarts_end_index;
    std::optional<std::string> modelarts_end_time;
    std::optional<boost::json::value> modelarts_feature; ///< documented as Object: list of points
    std::optional<std::string> modelarts_from;
    std::optional<std::string> modelarts_hard;
    std::optional<std::string> modelarts_hard_coefficient;
    std::optional<std::string> modelarts_hard_reasons;
    std::optional<std::string> modelarts_shape;
    std::optional<std::string> modelarts_source;
    std::optional<std::int64_t> modelarts_start_index;
    std::optional<std::string> modelarts_start_time;
    std::optional<std::string> modelarts_to;
    std::map<std::string, boost::json::value> extra;
    bool operator==(const sample_label_property&) const = default;
};

/// Table 18 SampleMetadata, same scheme as sample_label_property.
struct sample_metadata {
    std::optional<std::int64_t> modelarts_import_origin;
    std::optional<double> modelarts_hard;
    std::optional<double> modelarts_hard_coefficient;
    std::optional<std::vector<std::int64_t>> modelarts_hard_reasons;
    /// documented as "Array of objects" holding numbers ([100,200,3]): kept as JSON
    std::optional<std::vector<boost::json::value>> modelarts_size;
    std::map<std::string, boost::json::value> extra;
    bool operator==(const sample_metadata&) const = default;
};

/// Table 16 SampleLabel.
struct sample_label {
    std::optional<std::string> annotated_by;
    std::optional<std::string> id;
    std::optional<std::string> name;
    std::optional<sample_label_property> property;
    std::optional<double> score;
    std::optional<std::int64_t> type;
    bool operator==(const sample_label&) const = default;
};

/// Table 15 SampleLabels.
struct sample_labels {
    std::optional<std::vector<sample_label>> labels;
    std::optional<sample_metadata> metadata;
    std::optional<std::string> sample_id;
    std::optional<std::int64_t> sample_type;
    std::optional<std::string> sample_usage;
    std::optional<std::string> source;
    std::optional<std::string> worker_id;
    bool operator==(const sample_labels&) const = default;
};

/// Table 3 SmartTaskConfig (Table 2 `config`).
struct smart_task_config {
    std::optional<std::string> algorithm_type;
    std::optional<bool> ambiguity;
    std::optional<std::string> annotation_output;
    std::optional<std::string> collect_rule;
    std::optional<bool> collect_sample;
    std::optional<std::string> confidence_scope;
    std::optional<std::string> description;
    std::optional<std::string> engine_name;
    std::optional<std::int64_t> export_format;
    std::optional<modelarts::export_params> export_params;
    std::optional<modelarts::flavor> flavor;
    std::optional<bool> image_brightness;
    std::optional<bool> image_colorfulness;
    std::optional<std::string> inf_cluster_id;
    std::optional<std::vector<inf_config>> inf_config_list;
    std::optional<std::string> inf_output;
    std::optional<std::string> infer_result_output_dir;
    std::optional<std::string> key_sample_output;
    std::optional<std::string> log_url;
    std::optional<std::string> manifest_path;
    std::optional<std::string> model_id;
    std::optional<std::string> model_name;
    std::optional<std::string> model_parameter;
    std::optional<std::string> model_version;
    std::optional<std::int64_t> n_clusters;
    std::optional<std::string> name;
    std::optional<std::string> output_dir;
    std::optional<std::vector<training_parameter>> parameters;
    std::optional<std::string> pool_id;
    std::optional<std::string> property;
    std::optional<std::string> req_uri;
    std::optional<std::int64_t> result_type;
    std::optional<std::vector<sample_labels>> samples;
    std::optional<std::int64_t> stop_time; ///< minutes
    std::optional<std::string> time;
    std::optional<std::string> train_data_path;
    std::optional<std::string> train_url;
    std::optional<std::string> version_format;
    std::optional<std::int64_t> worker_server_num;
    bool operator==(const smart_task_config&) const = default;
};

/// Table 13 Event; sub-events nest to any depth.
struct event {
    std::optional<std::int64_t> create_time;
    std::optional<std::string> description;
    std::optional<std::int64_t> elapsed_time;
    std::optional<std::string> error_code;
    std::optional<std::string> error_message;
    std::optional<std::vector<event>> events;
    std::optional<std::int64_t> level;
    std::optional<std::string> name;
    std::optional<std::int64_t> ordinal;
    std::optional<std::string> parent_name;
    std::optional<std::string> status; ///< "waiting", "running", "failed", "success"
    bool operator==(const event&) const = default;
};

/// Table 14 HardSelectTask.
struct hard_select_task {
    std::optional<std::int64_t> create_at;
    std::optional<std::string> dataset_id;
    std::optional<std::string> dataset_name;
    std::optional<std::string> hard_select_task_id;
    std::optional<std::string> task_status;
    std::optional<std::int64_t> time;
    std::optional<std::int64_t> update_at;
    bool operator==(const hard_select_task&) const = default;
};

/// Table 12 Result (Table 2 `result`).
struct result {
    std::optional<std::int64_t> annotated_sample_count;
    std::optional<std::string> confidence_scope;
    std::optional<std::string> dataset_name;
    std::optional<std::string> dataset_type; ///< a String holding a number ("0", "600")
    std::optional<std::string> description;
    std::optional<std::string> dlf_model_job_name;
    std::optional<std::string> dlf_service_job_name;
    std::optional<std::string> dlf_train_job_name;
    std::optional<std::vector<event>> events;
    std::optional<std::string> hard_example_path;
    std::optional<std::vector<hard_select_task>> hard_select_tasks;
    std::optional<std::string> manifest_path;
    std::optional<std::string> model_id;
    std::optional<std::string> model_name;
    std::optional<std::string> model_version;
    std::optional<std::vector<sample_labels>> samples;
    std::optional<std::string> service_id;
    std::optional<std::string> service_name;
    std::optional<std::string> service_resource;
    std::optional<std::int64_t> total_sample_count;
    std::optional<std::string> train_data_path;
    std::optional<std::string> train_job_id;
    std::optional<std::string> train_job_name;
    std::optional<std::int64_t> unconfirmed_sample_count;
    std::optional<std::string> version_id;
    std::optional<std::string> version_name;
    std::optional<std::string> workspace_id;
    bool operator==(const result&) const = default;
};

/// Table 2: one task, as GET .../tasks/{task_id} returns it, or one item of the list API.
/// A 200 body routinely carries `code`/`message` (e.g. "ModelArts.4902", exporting labels)
/// and may carry `error_code`/`error_msg` while running: decide from `status` only.
struct task {
    std::optional<std::string> code;
    std::optional<smart_task_config> config;
    std::optional<std::string> create_time;   ///< "2020-11-23 11:08:20", zone not documented
    std::optional<std::int64_t> elapsed_time; ///< unit not documented
    std::optional<std::string> error_code;
    std::optional<std::string> error_detail;
    std::optional<std::string> error_msg;
    std::optional<std::string> message;
    std::optional<double> progress; ///< percent, 0..100
    std::optional<std::string> resource_id;
    std::optional<modelarts::result> result;
    std::optional<task_status> status; ///< any integer code; absent when not an integer
    std::optional<std::string> task_id;
    std::optional<std::string> task_name;
    std::optional<std::int64_t> export_type; ///< 0: to OBS, 1: to sample attributes
    // Only in items of the list API:
    std::optional<std::string> type; ///< "auto-label", "pre-label", "auto-grouping"
    std::optional<std::string> dataset_id;
    std::optional<std::int64_t> annotated_sample_count;
    std::optional<std::int64_t> unconfirmed_sample_count;
    std::optional<std::int64_t> total_sample_count;
    bool operator==(const task&) const = default;
};

/// Response of GET /v2/{project_id}/datasets/{dataset_id}/tasks. A missing or null `tasks`
/// reads as an empty list; `tasks` is always written.
struct task_list {
    std::vector<task> tasks;
    std::optional<std::int64_t> total_count;
    std::optional<bool> exist_running_deploy_task;
    bool operator==(const task_list&) const = default;
};

/// The first problem found in a body; `path` is "" for the document itself.
struct parse_error {
    std::string path;    ///< "config.inf_config_list[2].weight"
    std::string message; ///< "expected integer, got string"
    /// "<path>: <message>", with "(root)" standing for the empty path.
    std::string to_string() const;
    bool operator==(const parse_error&) const = default;
};

expected<task, parse_error> parse_task(const boost::json::value& body);
/// Also reports a body that is not JSON: path "", "invalid JSON: <reason> at offset N".
expected<task, parse_error> parse_task(std::string_view body);
expected<task_list, parse_error> parse_task_list(const boost::json::value& body);
expected<task_list, parse_error> parse_task_list(std::string_view body);
/// Only what discovery needs from a list page, read without building typed tasks (a page of
/// 100 tasks is ~50 KB): the ids of the items that have one, the item count, total_count.
/// Lenient about the items' other fields; strict about the shape it reads.
struct task_id_page {
    std::vector<std::string> task_ids;
    std::size_t items = 0;
    std::optional<std::int64_t> total_count;
};
expected<task_id_page, parse_error> parse_task_ids(std::string_view body);
// A literal converts to both string_view and json::value: these pick the text reading.
inline expected<task, parse_error> parse_task(const char* body) {
    return parse_task(std::string_view(body));
}
inline expected<task_list, parse_error> parse_task_list(const char* body) {
    return parse_task_list(std::string_view(body));
}

/// Only the present fields, under the API's names (`status` as its integer code), so that
/// parsing the result gives back an equal value.
boost::json::value to_json(const task& t);
boost::json::value to_json(const task_list& l);

} // namespace taskwatch::modelarts
