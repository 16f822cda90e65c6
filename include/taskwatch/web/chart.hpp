// Progress over time drawn on the server as inline SVG: the status page's sparkline and the
// task page's chart with its status band. Pure functions of a task's history; every point of
// the chart carries its time and progress as data attributes, so that tests and tools can
// compare it with GET /api/v1/tasks/{dataset_id}/{task_id}.
#pragma once

#include "taskwatch/state/history.hpp"
#include "taskwatch/task/types.hpp"

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace taskwatch::web {

/// One sample of a task's history as the store keeps it (oldest first in a series).
using history_point = state::history_point;

/// A point of a plot: x and y in the SVG's user units.
struct plot_point {
    double x = 0, y = 0;
    bool operator==(const plot_point&) const = default;
};

/// A span of time on a plot's x axis.
struct time_range {
    task::time_point from, to;
};

/// Where the samples with a progress land in a `width` x `height` box: `range` across x
/// (default: from the first to the last such sample; an empty range puts every sample in the
/// middle), progress 0..1 from the bottom (y = height) to the top (y = 0), clamped. Samples
/// without progress are left out.
std::vector<plot_point> plot_progress(std::span<const history_point> history, double width,
                                      double height, std::optional<time_range> range = {});

/// A spell of one status: from `from` to the next spell's start, or `to` for the last one.
struct status_spell {
    std::optional<modelarts::task_status> status;
    task::time_point from, to;
    bool operator==(const status_spell&) const = default;
};

/// The history's statuses as spells: consecutive samples with the same status are one; samples
/// without a status continue the spell before them. The last spell ends at `now` (or at its
/// start, if `now` is earlier).
std::vector<status_spell> status_spells(std::span<const history_point> history,
                                        task::time_point now);

/// `<svg class="spark" ...>` of progress, 120 x 24 units, with data-points (how many); an
/// empty string when no sample has a progress.
std::string sparkline_svg(std::span<const history_point> history);

/// `<svg class="chart" ...>`: progress over time with a 0/50/100 % grid, the first and last
/// times, one `<circle class="pt" data-time="RFC 3339" data-progress="ratio">` per sample with
/// a progress, and under it a band of the status spells (`<rect class="seg st-NAME">`). Time
/// runs from the first sample to `now`, or to the last sample once the task has finished.
/// `current`: the progress the last poll saw; a running task's line goes on to now at it
/// (`<line class="tail">`, dashed), since the history keeps at most a point a minute while
/// progress moves.
std::string progress_chart_svg(std::span<const history_point> history, task::time_point now,
                               std::optional<double> current = {});

} // namespace taskwatch::web
