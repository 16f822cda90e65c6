#include "taskwatch/modelarts/model.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <string>

namespace json = boost::json;
using namespace taskwatch::modelarts;

namespace {

// The 200 response example of the seed page, verbatim.
constexpr std::string_view seed_response = R"json({
  "resource_id" : "XGrRZuCV1qmMxnsmD5u",
  "create_time" : "2020-11-23 11:08:20",
  "progress" : 10.0,
  "status" : 1,
  "message" : "Start to export annotations. Export task id is jMZGm2SBp4Ymr2wrhAK",
  "code" : "ModelArts.4902",
  "elapsed_time" : 0,
  "result" : {
    "total_sample_count" : 49,
    "annotated_sample_count" : 30
  },
  "export_type" : 0,
  "config" : {
    "ambiguity" : false,
    "worker_server_num" : 0,
    "collect_sample" : false,
    "algorithm_type" : "fast",
    "image_brightness" : false,
    "image_colorfulness" : false
  }
})json";

// Every field of every table (Tables 2-18) plus the list-only task fields, each table's keys
// in the page's order. Floats are written as floats and integers as integers so that the
// serialised form compares equal to this document.
constexpr std::string_view full_task = R"json({
  "code": "ModelArts.4902",
  "config": {
    "algorithm_type": "accurate",
    "ambiguity": true,
    "annotation_output": "/bucket/out/annotation/",
    "collect_rule": "all",
    "collect_sample": true,
    "confidence_scope": "0.10-0.90",
    "description": "nightly relabel",
    "engine_name": "tensorflow",
    "export_format": 2,
    "export_params": {
      "clear_hard_property": true,
      "export_dataset_version_format": "Default",
      "export_dataset_version_name": "V003",
      "export_dest": "NEW_DATASET",
      "export_new_dataset_name": "cats-export",
      "export_new_dataset_work_path": "/bucket/cats-export/",
      "ratio_sample_usage": false,
      "sample_state": "__ALL__",
      "samples": ["s-1", "s-2"],
      "search_conditions": [
        {
          "coefficient": "0.5",
          "frame_in_video": 12,
          "hard": "1",
          "import_origin": "obs",
          "kvp": "120",
          "label_list": {
            "labels": [
              {"name": "cat", "op": "OR", "property": {"color": ["black", "white"], "size": null}, "type": 1},
              {"name": "dog", "op": "AND", "property": {}, "type": 0}
            ],
            "op": "AND"
          },
          "labeler": "alice",
          "metadata": {"op": "OR", "props": {"@modelarts:import_origin": ["0", "1"]}},
          "parent_sample_id": "p-1",
          "sample_dir": "/bucket/images/",
          "sample_name": "1.jpg",
          "sample_time": "20190901-20190915",
          "score": "0.8-1.0",
          "slice_thickness": "1.5",
          "study_date": "20200101",
          "time_in_video": "00:00:12.000"
        },
        {"sample_time": "month"}
      ],
      "train_sample_ratio": "0.80"
    },
    "flavor": {"code": "modelarts.vm.gpu.p4"},
    "image_brightness": true,
    "image_colorfulness": true,
    "inf_cluster_id": "cluster-1",
    "inf_config_list": [
      {"envs": {"MODEL_ENV": "prod", "THREADS": "4"}, "instance_count": 2, "model_id": "m-1", "specification": "modelarts.vm.cpu.2u", "weight": 70},
      {"envs": {}, "instance_count": 1, "model_id": "m-2", "specification": "modelarts.vm.cpu.2u", "weight": 30}
    ],
    "inf_output": "/bucket/out/inference/",
    "infer_result_output_dir": "/bucket/out/infer-result/",
    "key_sample_output": "/bucket/out/hard/",
    "log_url": "/bucket/logs/",
    "manifest_path": "/bucket/manifest/train.manifest",
    "model_id": "model-1",
    "model_name": "resnet",
    "model_parameter": "{\"lr\":0.1}",
    "model_version": "0.0.1",
    "n_clusters": 5,
    "name": "auto-label-1",
    "output_dir": "/test/work_1608083108676/dataset123-g6IO9qSu6hoxwCAirfm/annotation/auto-deploy/",
    "parameters": [{"label": "learning_rate", "value": "0.01"}, {"label": "epochs", "value": "10"}],
    "pool_id": "pool-1",
    "property": "size",
    "req_uri": "/infer",
    "result_type": 1,
    "samples": [
      {
        "labels": [
          {
            "annotated_by": "human",
            "id": "l-1",
            "name": "cat",
            "property": {
              "@modelarts:content": "hello",
              "@modelarts:end_index": 23,
              "@modelarts:end_time": "00:00:02.500",
              "@modelarts:feature": [[0, 10], [50, 95]],
              "@modelarts:from": "e-1",
              "@modelarts:hard": "0",
              "@modelarts:hard_coefficient": "0.3",
              "@modelarts:hard_reasons": "3-20-21-19",
              "@modelarts:shape": "bndbox",
              "@modelarts:source": "narrator",
              "@modelarts:start_index": 0,
              "@modelarts:start_time": "00:00:01.000",
              "@modelarts:to": "e-2",
              "color": "black",
              "occluded": true,
              "note": null,
              "tags": {"a": [1, 2.5, "x"]}
            },
            "score": 0.97,
            "type": 1
          },
          {"name": "background", "type": 0, "score": 0.5}
        ],
        "metadata": {
          "@modelarts:import_origin": 0,
          "@modelarts:hard": 1.0,
          "@modelarts:hard_coefficient": 0.75,
          "@modelarts:hard_reasons": [3, 20, 21],
          "@modelarts:size": [100, 200, 3],
          "camera": "front",
          "exposure": 0.01
        },
        "sample_id": "s-1",
        "sample_type": 0,
        "sample_usage": "TRAIN",
        "source": "obs://bucket/images/1.jpg",
        "worker_id": "w-1"
      }
    ],
    "stop_time": 15,
    "time": "1608083108676",
    "train_data_path": "/bucket/train/",
    "train_url": "/bucket/train-out/",
    "version_format": "CSV",
    "worker_server_num": 2
  },
  "create_time": "2020-11-23 11:08:20",
  "elapsed_time": 3600,
  "error_code": "ModelArts.4352",
  "error_detail": "detail text",
  "error_msg": "inference failed",
  "message": "Start to export annotations.",
  "progress": 42.5,
  "resource_id": "XGrRZuCV1qmMxnsmD5u",
  "result": {
    "annotated_sample_count": 30,
    "confidence_scope": "0.5",
    "dataset_name": "dataset123",
    "dataset_type": "1",
    "description": "result description",
    "dlf_model_job_name": "dlf-model",
    "dlf_service_job_name": "dlf-service",
    "dlf_train_job_name": "dlf-train",
    "events": [
      {
        "create_time": 1606100900000,
        "description": "train",
        "elapsed_time": 120,
        "error_code": "ModelArts.0010",
        "error_message": "boom",
        "events": [
          {
            "create_time": 1606100901000,
            "description": "sub",
            "elapsed_time": 60,
            "error_code": "",
            "error_message": "",
            "events": [{"name": "leaf", "level": 3, "ordinal": 0, "status": "waiting", "events": []}],
            "level": 2,
            "name": "prepare",
            "ordinal": 1,
            "parent_name": "train",
            "status": "success"
          }
        ],
        "level": 1,
        "name": "train",
        "ordinal": 0,
        "parent_name": "",
        "status": "failed"
      },
      {"name": "infer", "status": "running"}
    ],
    "hard_example_path": "/bucket/hard/",
    "hard_select_tasks": [
      {
        "create_at": 1606100900000,
        "dataset_id": "d-1",
        "dataset_name": "dataset123",
        "hard_select_task_id": "h-1",
        "task_status": "running",
        "time": 30,
        "update_at": 1606100960000
      }
    ],
    "manifest_path": "/bucket/manifest/",
    "model_id": "model-1",
    "model_name": "resnet",
    "model_version": "0.0.1",
    "samples": [{"sample_id": "s-9", "labels": [], "metadata": {}}],
    "service_id": "svc-1",
    "service_name": "svc",
    "service_resource": "res-1",
    "total_sample_count": 49,
    "train_data_path": "/bucket/train/",
    "train_job_id": "job-1",
    "train_job_name": "job",
    "unconfirmed_sample_count": 19,
    "version_id": "v-1",
    "version_name": "V001",
    "workspace_id": "0"
  },
  "status": 2,
  "task_id": "jMZGm2SBp4Ymr2wrhAK",
  "task_name": "auto-label-1",
  "export_type": 1,
  "type": "auto-label",
  "dataset_id": "d-1",
  "annotated_sample_count": 30,
  "unconfirmed_sample_count": 19,
  "total_sample_count": 49
})json";

task parse_ok(std::string_view body) {
    auto r = parse_task(body);
    if (!r) FAIL("unexpected parse error: " << r.error().to_string());
    return std::move(r).value();
}

std::string error_of(std::string_view body) {
    auto r = parse_task(body);
    if (r) FAIL("parsed although it should not: " << body);
    return r.error().to_string();
}

std::string list_error_of(std::string_view body) {
    auto r = parse_task_list(body);
    if (r) FAIL("parsed although it should not: " << body);
    return r.error().to_string();
}

bool uses_default_storage(const json::value& v) {
    return v.storage().get() == json::storage_ptr().get();
}

} // namespace

TEST_CASE("task_status names, codes and terminality") {
    CHECK(to_string(task_status::queuing) == "queuing");
    CHECK(to_string(task_status::initializing) == "initializing");
    CHECK(to_string(task_status::running) == "running");
    CHECK(to_string(task_status::failed) == "failed");
    CHECK(to_string(task_status::succeeded) == "succeeded");
    CHECK(to_string(task_status::stopping) == "stopping");
    CHECK(to_string(task_status::stopped) == "stopped");

    for (std::int64_t code = -1; code <= 5; ++code) {
        CAPTURE(code);
        auto s = task_status_from_code(code);
        REQUIRE(s);
        CHECK(to_code(*s) == code);
    }
    CHECK(task_status_from_code(-1) == task_status::queuing);
    CHECK(task_status_from_code(3) == task_status::succeeded);
    CHECK_FALSE(task_status_from_code(-2));
    CHECK_FALSE(task_status_from_code(6));
    CHECK_FALSE(task_status_from_code(std::numeric_limits<std::int64_t>::min()));
    CHECK_FALSE(task_status_from_code(std::numeric_limits<std::int64_t>::max()));
    CHECK(to_string(static_cast<task_status>(6)) == "unknown");
    CHECK(to_string(static_cast<task_status>(std::numeric_limits<std::int64_t>::max())) ==
          "unknown");
    CHECK(std::size(task_status_names) == 7);

    CHECK(is_terminal(task_status::failed));
    CHECK(is_terminal(task_status::succeeded));
    CHECK(is_terminal(task_status::stopped));
    CHECK_FALSE(is_terminal(task_status::queuing));
    CHECK_FALSE(is_terminal(task_status::initializing));
    CHECK_FALSE(is_terminal(task_status::running));
    CHECK_FALSE(is_terminal(task_status::stopping));
}

TEST_CASE("the seed's response example parses to exactly its values") {
    const task t = parse_ok(seed_response);

    CHECK(t.resource_id == "XGrRZuCV1qmMxnsmD5u");
    CHECK(t.create_time == "2020-11-23 11:08:20");
    CHECK(t.progress == 10.0);
    CHECK(t.status == task_status::running);
    CHECK(t.message == "Start to export annotations. Export task id is jMZGm2SBp4Ymr2wrhAK");
    CHECK(t.code == "ModelArts.4902");
    CHECK(t.elapsed_time == 0);
    REQUIRE(t.result);
    CHECK(t.result->total_sample_count == 49);
    CHECK(t.result->annotated_sample_count == 30);
    CHECK(t.export_type == 0);
    REQUIRE(t.config);
    CHECK(t.config->ambiguity == false);
    CHECK(t.config->worker_server_num == 0);
    CHECK(t.config->collect_sample == false);
    CHECK(t.config->algorithm_type == "fast");
    CHECK(t.config->image_brightness == false);
    CHECK(t.config->image_colorfulness == false);

    // Nothing else is set: the whole value equals one built by hand.
    task expected;
    expected.resource_id = "XGrRZuCV1qmMxnsmD5u";
    expected.create_time = "2020-11-23 11:08:20";
    expected.progress = 10.0;
    expected.status = task_status::running;
    expected.message = "Start to export annotations. Export task id is jMZGm2SBp4Ymr2wrhAK";
    expected.code = "ModelArts.4902";
    expected.elapsed_time = 0;
    expected.result.emplace();
    expected.result->total_sample_count = 49;
    expected.result->annotated_sample_count = 30;
    expected.export_type = 0;
    expected.config.emplace();
    expected.config->ambiguity = false;
    expected.config->worker_server_num = 0;
    expected.config->collect_sample = false;
    expected.config->algorithm_type = "fast";
    expected.config->image_brightness = false;
    expected.config->image_colorfulness = false;
    CHECK(t == expected);

    CHECK(to_json(t) == json::parse(seed_response));
}

TEST_CASE("a fully populated task round-trips exactly") {
    const json::value original = json::parse(full_task);
    const task t = parse_ok(full_task);

    CHECK(to_json(t) == original);
    auto again = parse_task(to_json(t));
    REQUIRE(again);
    CHECK(*again == t);
    // Same through the text form.
    CHECK(parse_ok(json::serialize(to_json(t))) == t);

    // Spot checks that the values landed in the right members.
    CHECK(t.status == task_status::failed);
    CHECK(t.progress == 42.5);
    CHECK(t.error_detail == "detail text");
    CHECK(t.type == "auto-label");
    CHECK(t.dataset_id == "d-1");
    CHECK(t.unconfirmed_sample_count == 19);

    const auto& c = *t.config;
    CHECK(c.flavor->code == "modelarts.vm.gpu.p4");
    CHECK(c.inf_config_list->at(0).envs->at("THREADS") == "4");
    CHECK(c.inf_config_list->at(1).envs->empty());
    CHECK(c.inf_config_list->at(1).weight == 30);
    CHECK(c.parameters->at(1).label == "epochs");
    CHECK(c.stop_time == 15);

    const auto& ep = *c.export_params;
    CHECK(ep.samples == std::vector<std::string>{"s-1", "s-2"});
    REQUIRE(ep.search_conditions->size() == 2);
    const auto& sc = ep.search_conditions->at(0);
    CHECK(sc.frame_in_video == 12);
    const auto& cat = sc.label_list->labels->at(0);
    CHECK(cat.property->at("color") == std::vector<std::string>{"black", "white"});
    CHECK(cat.property->count("size") == 1);
    CHECK_FALSE(cat.property->at("size").has_value()); // null: "not searched by value"
    CHECK(sc.metadata->props->at("@modelarts:import_origin") == std::vector<std::string>{"0", "1"});
    search_condition month_only;
    month_only.sample_time = "month";
    CHECK(ep.search_conditions->at(1) == month_only);

    const auto& label = c.samples->at(0).labels->at(0);
    CHECK(label.score == 0.97);
    const auto& p = *label.property;
    CHECK(p.modelarts_content == "hello");
    CHECK(p.modelarts_end_index == 23);
    CHECK(p.modelarts_start_index == 0);
    CHECK(p.modelarts_shape == "bndbox");
    CHECK(p.modelarts_feature == json::parse("[[0,10],[50,95]]"));
    CHECK(p.extra.size() == 4);
    CHECK(p.extra.at("color") == "black");
    CHECK(p.extra.at("occluded") == true);
    CHECK(p.extra.at("note").is_null());
    CHECK(p.extra.at("tags") == json::parse(R"({"a":[1,2.5,"x"]})"));
    CHECK(p.extra.count("@modelarts:shape") == 0);

    const auto& m = *c.samples->at(0).metadata;
    CHECK(m.modelarts_import_origin == 0);
    CHECK(m.modelarts_hard == 1.0);
    CHECK(m.modelarts_hard_coefficient == 0.75);
    CHECK(m.modelarts_hard_reasons == std::vector<std::int64_t>{3, 20, 21});
    CHECK(m.modelarts_size == std::vector<json::value>{100, 200, 3});
    CHECK(m.extra.size() == 2);
    CHECK(m.extra.at("camera") == "front");

    const auto& r = *t.result;
    CHECK(r.dataset_type == "1");
    REQUIRE(r.events->size() == 2);
    const auto& leaf = r.events->at(0).events->at(0).events->at(0);
    CHECK(leaf.name == "leaf");
    CHECK(leaf.level == 3);
    CHECK(leaf.events == std::vector<event>{});
    CHECK(r.events->at(0).events->at(0).parent_name == "train");
    CHECK(r.events->at(0).create_time == 1606100900000);
    CHECK(r.hard_select_tasks->at(0).update_at == 1606100960000);
    CHECK(r.samples->at(0).labels == std::vector<sample_label>{});
    CHECK(r.samples->at(0).metadata == sample_metadata{});
}

TEST_CASE("JSON values kept from a body do not point into the parse arena") {
    // The text parser builds its DOM in a short-lived arena; kept values must be copies.
    const task t = parse_ok(full_task);
    const auto& p = *t.config->samples->at(0).labels->at(0).property;
    CHECK(uses_default_storage(*p.modelarts_feature));
    for (const auto& entry : p.extra) { // no structured binding: clang 14 cannot capture one
        CAPTURE(entry.first);
        CHECK(uses_default_storage(entry.second));
    }
    for (const auto& v : *t.config->samples->at(0).metadata->modelarts_size)
        CHECK(uses_default_storage(v));
    CHECK(p.extra.at("tags").at("a").at(2) == "x"); // still readable after the arena is gone
}

TEST_CASE("unknown fields are ignored at every depth") {
    const task t = parse_ok(R"({
        "status": 3, "brand_new_field": {"x": [1, 2]},
        "result": {"total_sample_count": 5, "future": "yes"},
        "config": {"algorithm_type": "fast", "flavor": {"code": "c", "gpu": 1},
                   "inf_config_list": [{"weight": 100, "extra": null}]}
    })");
    task expected;
    expected.status = task_status::succeeded;
    expected.result.emplace();
    expected.result->total_sample_count = 5;
    expected.config.emplace();
    expected.config->algorithm_type = "fast";
    expected.config->flavor = flavor{"c"};
    inf_config weight_only;
    weight_only.weight = 100;
    expected.config->inf_config_list = std::vector<inf_config>{weight_only};
    CHECK(t == expected);
}

TEST_CASE("null is treated as absent for optional fields") {
    const task t = parse_ok(R"({
        "task_id": "t1", "status": null, "progress": null, "config": null,
        "result": {"total_sample_count": null, "annotated_sample_count": 3, "events": null},
        "code": null, "message": null
    })");
    CHECK(t.task_id == "t1");
    CHECK_FALSE(t.status);
    CHECK_FALSE(t.progress);
    CHECK_FALSE(t.config);
    CHECK_FALSE(t.code);
    CHECK_FALSE(t.message);
    REQUIRE(t.result);
    CHECK_FALSE(t.result->total_sample_count);
    CHECK_FALSE(t.result->events);
    CHECK(t.result->annotated_sample_count == 3);
    // Absent fields are not written back.
    CHECK(to_json(t) == json::parse(R"({"task_id":"t1","result":{"annotated_sample_count":3}})"));
}

TEST_CASE("an empty object is a task with nothing known") {
    CHECK(parse_ok("{}") == task{});
    CHECK(to_json(task{}) == json::object{});
}

TEST_CASE("numbers are read leniently only where the meaning cannot change") {
    SUBCASE("an integer where a Float is documented") {
        const task t =
            parse_ok(R"({"progress": 10, "config": {"samples": [{"labels": [{"score": 1}]}]}})");
        CHECK(t.progress == 10.0);
        CHECK(t.config->samples->at(0).labels->at(0).score == 1.0);
    }
    SUBCASE("a float with an integral value where an Integer is documented") {
        const task t = parse_ok(
            R"({"status": 3.0, "elapsed_time": 1e3, "result": {"total_sample_count": 49.0, "annotated_sample_count": -0.0}})");
        CHECK(t.status == task_status::succeeded);
        CHECK(t.elapsed_time == 1000);
        CHECK(t.result->total_sample_count == 49);
        CHECK(t.result->annotated_sample_count == 0);
        // Written back as integers.
        CHECK(to_json(t).at("result").at("total_sample_count").is_int64());
    }
    SUBCASE("the largest integers") {
        const task t = parse_ok(
            R"({"elapsed_time": 9223372036854775807, "export_type": -9223372036854775808})");
        CHECK(t.elapsed_time == std::numeric_limits<std::int64_t>::max());
        CHECK(t.export_type == std::numeric_limits<std::int64_t>::min());
    }
}

TEST_CASE("a wrong type is reported with its JSON path") {
    CHECK(error_of(R"({"result": {"total_sample_count": "49"}})") ==
          "result.total_sample_count: expected integer, got string");
    CHECK(
        error_of(
            R"({"config": {"inf_config_list": [{"weight": 50}, {"weight": 25}, {"weight": "25"}]}})") ==
        "config.inf_config_list[2].weight: expected integer, got string");
    CHECK(error_of(R"({"progress": "10.0"})") == "progress: expected number, got string");
    CHECK(error_of(R"({"task_id": 17})") == "task_id: expected string, got number");
    CHECK(error_of(R"({"config": {"ambiguity": 0}})") ==
          "config.ambiguity: expected boolean, got number");
    CHECK(error_of(R"({"config": {"ambiguity": "false"}})") ==
          "config.ambiguity: expected boolean, got string");
    CHECK(error_of(R"({"result": []})") == "result: expected object, got array");
    CHECK(error_of(R"({"result": {"events": {}}})") == "result.events: expected array, got object");
    CHECK(error_of(R"({"result": {"events": [{}, {"events": [{"level": true}]}]}})") ==
          "result.events[1].events[0].level: expected integer, got boolean");
    CHECK(error_of(R"({"config": {"parameters": [null]}})") ==
          "config.parameters[0]: expected object, got null");
    CHECK(error_of(R"({"config": {"export_params": {"samples": ["a", 2]}}})") ==
          "config.export_params.samples[1]: expected string, got number");
    CHECK(
        error_of(
            R"({"config": {"export_params": {"search_conditions": [{"label_list": {"labels": [{"property": {"color": "black"}}]}}]}}})") ==
        "config.export_params.search_conditions[0].label_list.labels[0].property.color: expected "
        "array, got string");
    CHECK(
        error_of(
            R"({"config": {"export_params": {"search_conditions": [{}, {"metadata": {"props": {"k": ["a", null]}}}]}}})") ==
        "config.export_params.search_conditions[1].metadata.props.k[1]: expected string, got null");
    CHECK(error_of(R"({"config": {"inf_config_list": [{"envs": {"A": 1}}]}})") ==
          "config.inf_config_list[0].envs.A: expected string, got number");
    CHECK(
        error_of(
            R"({"config": {"samples": [{"labels": [{}, {"property": {"@modelarts:end_index": "7"}}]}]}})") ==
        "config.samples[0].labels[1].property.@modelarts:end_index: expected integer, got string");
    CHECK(
        error_of(
            R"({"result": {"samples": [{"metadata": {"@modelarts:hard_reasons": [3, 1.5]}}]}})") ==
        "result.samples[0].metadata.@modelarts:hard_reasons[1]: expected integer, got number 1.5");
    CHECK(error_of(R"({"result": {"samples": [{"metadata": {"@modelarts:size": 100}}]}})") ==
          "result.samples[0].metadata.@modelarts:size: expected array, got number");
    CHECK(error_of(R"({"elapsed_time": 18446744073709551615})") ==
          "elapsed_time: expected integer, got number 18446744073709551615 (out of range)");
    CHECK(error_of(R"({"elapsed_time": 1e30})") ==
          "elapsed_time: expected integer, got number 1e+30 (out of range)");
    CHECK(error_of(R"({"result": {"total_sample_count": 49.5}})") ==
          "result.total_sample_count: expected integer, got number 49.5");
}

TEST_CASE("the error carries the path and the message separately") {
    auto r = parse_task(R"({"config": {"inf_config_list": [{}, {}, {"weight": "x"}]}})");
    REQUIRE_FALSE(r);
    CHECK(r.error().path == "config.inf_config_list[2].weight");
    CHECK(r.error().message == "expected integer, got string");
}

TEST_CASE("a status outside -1..5 is kept as an unknown status with its code") {
    // A status added to the API after this was written must not cost the task's other fields.
    for (std::int64_t code : {7, -2, 6, 9, 1000}) {
        CAPTURE(code);
        const task t = parse_ok(R"({"status": )" + std::to_string(code) +
                                R"(, "progress": 42.5, "task_name": "n"})");
        REQUIRE(t.status);
        CHECK(to_code(*t.status) == code);
        CHECK(to_string(*t.status) == "unknown");
        CHECK_FALSE(is_terminal(*t.status));
        CHECK(t.progress == 42.5);
        CHECK(t.task_name == "n");
        CHECK(parse_ok(json::serialize(to_json(t))) == t); // written back as the same code
    }
    CHECK(to_code(*parse_ok(R"({"status": 6.0})").status) == 6); // an integral float
}

TEST_CASE("a status that is not an integer is unknown (absent), the rest of the task is kept") {
    for (std::string_view status :
         {R"("1")", R"("running")", "1.5", "true", "[1]", "{}", "18446744073709551615"}) {
        CAPTURE(status);
        const task t = parse_ok(R"({"status": )" + std::string(status) +
                                R"(, "progress": 10, "task_id": "t1"})");
        CHECK_FALSE(t.status);
        CHECK(t.progress == 10.0);
        CHECK(t.task_id == "t1");
    }
}

TEST_CASE("a field the API adds later is accepted next to a future status") {
    const task t = parse_ok(R"({"status": 6, "progress": 50.0, "priority": "high",
                                "new_block": {"a": [1, {"b": null}]}, "task_id": "t1"})");
    REQUIRE(t.status);
    CHECK(to_code(*t.status) == 6);
    CHECK(t.progress == 50.0);
    CHECK(t.task_id == "t1");
}

TEST_CASE("a body that is not a JSON object is an error at the root") {
    CHECK(error_of("[]") == "(root): expected object, got array");
    CHECK(error_of("\"running\"") == "(root): expected object, got string");
    CHECK(error_of("null") == "(root): expected object, got null");
    auto r = parse_task("[1]");
    REQUIRE_FALSE(r);
    CHECK(r.error().path.empty());
    CHECK(parse_task(json::value(json::array{})).error().to_string() ==
          "(root): expected object, got array");
}

TEST_CASE("invalid JSON is reported with the reason and the offset") {
    auto r = parse_task(R"({"status": 1,})");
    REQUIRE_FALSE(r);
    CHECK(r.error().path.empty());
    CHECK(r.error().message == "invalid JSON: syntax error at offset 13");
    CHECK(error_of(R"({"a": tru})") == "(root): invalid JSON: syntax error at offset 6");
    CHECK(error_of("{} x") == "(root): invalid JSON: extra data at offset 3");
    CHECK(error_of("<html>502 Bad Gateway</html>") ==
          "(root): invalid JSON: syntax error at offset 0");
}

TEST_CASE("truncated JSON is reported as incomplete at the end of the body") {
    const std::string body(seed_response.substr(0, 120));
    CHECK(error_of(body) == "(root): invalid JSON: incomplete JSON at offset 120");
    CHECK(error_of("") == "(root): invalid JSON: incomplete JSON at offset 0");
    CHECK(error_of(R"({"status": 1, "progress")") ==
          "(root): invalid JSON: incomplete JSON at offset 24");
}

TEST_CASE("a known @modelarts key wins over an extra entry of the same name on output") {
    sample_label_property p;
    p.modelarts_shape = "polygon";
    p.extra.emplace("@modelarts:shape", "circle");
    p.extra.emplace("colour", "red");
    task t;
    t.config.emplace();
    sample_label label;
    label.property = p;
    sample_labels sample;
    sample.labels = std::vector<sample_label>{label};
    t.config->samples = std::vector<sample_labels>{sample};
    const json::value out = to_json(t);
    const auto& prop = out.at("config").at("samples").at(0).at("labels").at(0).at("property");
    CHECK(prop == json::parse(R"({"@modelarts:shape":"polygon","colour":"red"})"));
}

TEST_CASE("status is written as its integer code") {
    task t;
    t.status = task_status::queuing;
    CHECK(to_json(t) == json::parse(R"({"status":-1})"));
}

// ----------------------------------------------------------------------------------------
// List API

TEST_CASE("the list response parses with total_count and list-only task fields") {
    auto r = parse_task_list(R"({
        "tasks": [
          {"task_id": "t1", "dataset_id": "d1", "type": "auto-label", "status": 1, "progress": 50.0,
           "annotated_sample_count": 10, "unconfirmed_sample_count": 2, "total_sample_count": 20,
           "task_name": "one", "create_time": "2020-11-23 11:08:20", "elapsed_time": 7,
           "config": {"algorithm_type": "fast"}, "result": {"total_sample_count": 20}},
          {"task_id": "t2", "type": "pre-label", "status": 3, "code": "ModelArts.4902", "message": "done"}
        ],
        "total_count": 2,
        "exist_running_deploy_task": true
    })");
    REQUIRE(r);
    const task_list& l = *r;
    CHECK(l.total_count == 2);
    CHECK(l.exist_running_deploy_task == true);
    REQUIRE(l.tasks.size() == 2);
    CHECK(l.tasks[0].task_id == "t1");
    CHECK(l.tasks[0].dataset_id == "d1");
    CHECK(l.tasks[0].type == "auto-label");
    CHECK(l.tasks[0].status == task_status::running);
    CHECK(l.tasks[0].progress == 50.0);
    CHECK(l.tasks[0].annotated_sample_count == 10);
    CHECK(l.tasks[0].unconfirmed_sample_count == 2);
    CHECK(l.tasks[0].total_sample_count == 20);
    CHECK(l.tasks[0].config->algorithm_type == "fast");
    CHECK(l.tasks[0].result->total_sample_count == 20);
    CHECK(l.tasks[1].type == "pre-label");
    CHECK(l.tasks[1].status == task_status::succeeded);
    CHECK(l.tasks[1].code == "ModelArts.4902");

    auto again = parse_task_list(to_json(l));
    REQUIRE(again);
    CHECK(*again == l);
}

TEST_CASE("a list of fully populated tasks round-trips exactly") {
    json::object doc;
    json::array tasks;
    for (int i = 0; i < 30; ++i)
        tasks.push_back(json::parse(full_task)); // well past the stack arena
    doc["tasks"] = std::move(tasks);
    doc["total_count"] = 30;
    doc["exist_running_deploy_task"] = false;
    const std::string text = json::serialize(doc);

    auto r = parse_task_list(text);
    REQUIRE(r);
    CHECK(r->tasks.size() == 30);
    CHECK(r->tasks[29] == parse_ok(full_task));
    CHECK(to_json(*r) == json::value(doc));
}

TEST_CASE("a list without tasks is empty, and tasks is always written") {
    auto r = parse_task_list(R"({"total_count": 0})");
    REQUIRE(r);
    CHECK(r->tasks.empty());
    CHECK(r->total_count == 0);
    CHECK_FALSE(r->exist_running_deploy_task);
    CHECK(to_json(*r) == json::parse(R"({"tasks":[],"total_count":0})"));

    auto n = parse_task_list(R"({"tasks": null})");
    REQUIRE(n);
    CHECK(n->tasks.empty());
}

TEST_CASE("errors in a list name the item") {
    CHECK(list_error_of(R"({"tasks": [{"status": 1}, {"status": 9, "progress": "x"}]})") ==
          "tasks[1].progress: expected number, got string");
    CHECK(list_error_of(R"({"tasks": {}})") == "tasks: expected array, got object");
    CHECK(list_error_of(R"({"tasks": [], "total_count": "3"})") ==
          "total_count: expected integer, got string");
    CHECK(list_error_of(R"({"tasks": [], "exist_running_deploy_task": 1})") ==
          "exist_running_deploy_task: expected boolean, got number");
    CHECK(list_error_of("[]") == "(root): expected object, got array");
    CHECK(list_error_of(R"({"tasks": [)") == "(root): invalid JSON: incomplete JSON at offset 11");
}

TEST_CASE("parse_task_ids reads the ids, the item count and total_count of a list page") {
    using taskwatch::modelarts::parse_task_ids;
    auto page = parse_task_ids(R"({"tasks": [{"task_id": "a", "config": {"weird": [1]}},
        {"status": 2}, {"task_id": null}, {"task_id": ""}, {"task_id": "b"}], "total_count": 7})");
    REQUIRE(page);
    CHECK(page->task_ids == std::vector<std::string>{"a", "b"});
    CHECK(page->items == 5);
    CHECK(page->total_count == 7);

    auto empty = parse_task_ids(R"({"tasks": null})");
    REQUIRE(empty);
    CHECK(empty->items == 0);
    CHECK_FALSE(empty->total_count);

    auto wrong_id = parse_task_ids(R"({"tasks": [{"task_id": "a"}, {"task_id": 5}]})");
    REQUIRE_FALSE(wrong_id);
    CHECK(wrong_id.error().to_string() == "tasks[1].task_id: expected string, got number");
    auto not_array = parse_task_ids(R"({"tasks": {}})");
    REQUIRE_FALSE(not_array);
    CHECK(not_array.error().to_string() == "tasks: expected array, got object");
    auto not_item = parse_task_ids(R"({"tasks": [3]})");
    REQUIRE_FALSE(not_item);
    CHECK(not_item.error().to_string() == "tasks[0]: expected object, got number");
    auto bad_total = parse_task_ids(R"({"tasks": [], "total_count": "9"})");
    REQUIRE_FALSE(bad_total);
    CHECK(bad_total.error().to_string() == "total_count: expected integer, got string");
    auto broken = parse_task_ids(R"({"tasks": [)");
    REQUIRE_FALSE(broken);
    CHECK(broken.error().path.empty());
    CHECK(broken.error().message.starts_with("invalid JSON"));
}
