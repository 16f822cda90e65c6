#include "taskwatch/task/diff.hpp"

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace taskwatch::task {

namespace {

using modelarts::task_status;

event make_event(event_type type, const task_state& st, time_point now, std::string_view name) {
    event e;
    e.type = type;
    e.time = now;
    e.key = st.key;
    e.task_name = name;
    return e;
}

std::string_view last_name(const task_state& st) {
    return st.last ? std::string_view{st.last->task_name} : std::string_view{};
}

// The lifecycle's stages: queuing, initializing, running, stopping, then the three ends;
// nullopt for a code outside -1..5.
std::optional<int> stage(task_status s) {
    switch (s) {
    case task_status::queuing:
        return 0;
    case task_status::initializing:
        return 1;
    case task_status::running:
        return 2;
    case task_status::stopping:
        return 3;
    case task_status::failed:
    case task_status::succeeded:
    case task_status::stopped:
        return 4;
    default:
        return std::nullopt;
    }
}

// A status change that is not a step forward: to an earlier or the same stage, or to or from
// an unknown code. The first status sent (from null) is a step forward.
bool goes_back(std::optional<task_status> from, std::optional<task_status> to) {
    if (!from || !to) return false;
    const auto a = stage(*from), b = stage(*to);
    return !a || !b || *b <= *a;
}

// The pieces of an event's transition text: "-" for what the API did not send.
std::string text_of(std::optional<task_status> s) {
    return s ? std::to_string(modelarts::to_code(*s)) : "-";
}
std::string text_of(std::optional<double> v) {
    if (!v) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", *v);
    return buf;
}
std::string text_of(std::optional<time_point> t) {
    return t ? std::to_string(
                   std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch())
                       .count())
             : "-";
}

// Gives `e` its id (the cycle, then what the API said of the transition) and appends it.
void emit(task_state& st, event&& e, const std::string& transition, std::vector<event>& out) {
    e.id = event_id(st.key, e.type, std::to_string(st.cycle) + "|" + transition);
    ++st.event_seq;
    out.push_back(std::move(e));
}

template <class Obs>
void apply_ok(task_state& st, Obs&& polled, const diff_settings& s, time_point now,
              std::vector<event>& out) {
    if (st.gone) {
        // Back after a 404: a new task under an old key; only event_seq and the cycle survive,
        // and the cycle moves on (ids stay unique).
        ++st.cycle;
        st.last.reset();
        st.last_change.reset();
        st.progress_since.reset();
        st.finished_at.reset();
        st.stalled = false;
        st.failing_since.reset();
        st.failing_reported = false;
        st.last_error.reset();
        st.gone = false;
    }

    // A status or progress the poll left out is unknown, not changed: the last one sent stays
    // the reference for the next poll (and what events show).
    std::optional<observation> merged;
    if (st.last && (!polled.status || !polled.progress)) {
        merged.emplace(std::forward<Obs>(polled));
        if (!merged->status) merged->earlier_status = st.last->known_status();
        if (!merged->progress) merged->earlier_progress = st.last->known_progress();
    }
    const observation& seen = merged ? *merged : static_cast<const observation&>(polled);
    const auto seen_status = seen.known_status();

    // An observation without a name keeps the events named after the last one that had one.
    const std::string_view name = seen.task_name.empty() && st.last
                                      ? std::string_view{st.last->task_name}
                                      : std::string_view{seen.task_name};
    if (!st.last) {
        event e = make_event(event_type::discovered, st, now, name);
        e.current = to_snapshot(seen);
        emit(st, std::move(e), "created=" + text_of(seen.create_time), out);
        // When progress last moved is unknown: the stall clock starts at first sight.
        st.last_change = now;
        st.progress_since = now;
    } else {
        const observation& last = *st.last;
        const auto last_status = last.known_status();
        const auto last_progress = last.known_progress();
        const auto seen_progress = seen.known_progress();
        // An unknown code is a status like the others (9 -> 1 is a change); a status or a
        // progress sent for the first time after discovery is a change from null.
        const bool status_changed = last_status != seen_status;
        const bool progress_changed = last_progress != seen_progress;
        if ((status_changed && goes_back(last_status, seen_status)) ||
            (last_progress && seen_progress && *seen_progress < *last_progress))
            ++st.cycle;
        if (status_changed) {
            event e = make_event(event_type::status_changed, st, now, name);
            e.previous = to_snapshot(last);
            e.current = to_snapshot(seen);
            emit(st, std::move(e), text_of(last_status) + ">" + text_of(seen_status), out);
        }
        if (progress_changed && last_progress && seen_progress &&
            crosses_progress_step(*last_progress, *seen_progress, s.progress_steps)) {
            event e = make_event(event_type::progress, st, now, name);
            e.previous = to_snapshot(last);
            e.current = to_snapshot(seen);
            emit(st, std::move(e), text_of(last_progress) + ">" + text_of(seen_progress), out);
        }
        if (status_changed || progress_changed) st.last_change = now;
        if (progress_changed || (status_changed && seen_status == task_status::running)) {
            st.progress_since = now;
            st.stalled = false;
        }
    }

    if (seen_status != task_status::running) {
        st.stalled = false;
    } else {
        if (!st.progress_since) st.progress_since = now; // state from before the stall clock
        if (!st.stalled && now - *st.progress_since >= s.stall_after) {
            event e = make_event(event_type::stalled, st, now, name);
            e.current = to_snapshot(seen);
            emit(st, std::move(e), text_of(seen_status) + "@" + text_of(seen.known_progress()),
                 out);
            st.stalled = true;
        }
    }

    if (!seen_status || !modelarts::is_terminal(*seen_status))
        st.finished_at.reset();
    else if (!st.finished_at)
        st.finished_at = now;

    if (st.failing_reported) {
        event e = make_event(event_type::poll_recovered, st, now, name);
        e.current = to_snapshot(seen);
        emit(st, std::move(e), "since=" + text_of(st.failing_since), out);
    }
    st.failing_reported = false;
    st.failing_since.reset();
    st.last_error.reset();
    st.up = true;
    st.last_poll = now;
    // Usually unchanged: comparing is cheaper than copying its strings.
    if (!st.last || !(*st.last == seen)) {
        if (merged)
            st.last = std::move(*merged);
        else
            st.last = std::forward<Obs>(polled);
    }
}

void set_error(task_state& st, const poll_error& error) {
    if (!st.last_error || !(*st.last_error == error)) st.last_error = error;
}

void apply_failed(task_state& st, const poll_error& error, const diff_settings& s, time_point now,
                  std::vector<event>& out) {
    st.up = false;
    set_error(st, error);
    if (!st.failing_since) st.failing_since = now;
    if (!st.failing_reported && now - *st.failing_since >= s.stall_after / 3) {
        event e = make_event(event_type::poll_failing, st, now, last_name(st));
        if (st.last) e.current = to_snapshot(*st.last);
        e.error = error;
        emit(st, std::move(e), "since=" + text_of(st.failing_since), out);
        st.failing_reported = true;
    }
}

void apply_gone(task_state& st, const poll_error& error, time_point now, std::vector<event>& out) {
    st.up = false;
    set_error(st, error);
    if (st.gone) return;
    st.gone = true;
    if (!st.last) return; // never seen: nobody was told it exists
    event e = make_event(event_type::gone, st, now, last_name(st));
    e.current = to_snapshot(*st.last);
    e.error = error;
    emit(st, std::move(e), "created=" + text_of(st.last->create_time), out);
}

template <class Outcome>
void advance_impl(task_state& st, Outcome&& outcome, const diff_settings& s, time_point now,
                  std::vector<event>& out) {
    if (auto* ok = std::get_if<poll_ok>(&outcome)) {
        if constexpr (std::is_const_v<std::remove_reference_t<Outcome>> ||
                      std::is_lvalue_reference_v<Outcome>)
            apply_ok(st, std::as_const(ok->seen), s, now, out);
        else
            apply_ok(st, std::move(ok->seen), s, now, out);
    } else if (auto* failed = std::get_if<poll_failed>(&outcome)) {
        apply_failed(st, failed->error, s, now, out);
    } else if (auto* gone = std::get_if<poll_gone>(&outcome)) {
        apply_gone(st, gone->error, now, out);
    }
}

} // namespace

bool crosses_progress_step(double prev, double cur, const std::vector<double>& steps) noexcept {
    if (!(cur > prev)) return false;
    // The tolerance makes 0.3 a multiple of 0.1 although 0.3 / 0.1 == 2.9999999999999996.
    constexpr double tolerance = 1e-9;
    for (double step : steps) {
        if (!std::isfinite(step) || step <= 0) continue;
        if (cur >= 1.0 && prev < 1.0) return true; // completion is the last step of any size
        if (std::floor(prev / step + tolerance) != std::floor(cur / step + tolerance)) return true;
    }
    return false;
}

void advance(task_state& state, const poll_outcome& outcome, const diff_settings& s, time_point now,
             std::vector<event>& events) {
    advance_impl(state, outcome, s, now, events);
}

diff_result diff(const task_state& prev, const poll_outcome& outcome, const diff_settings& s,
                 time_point now) {
    diff_result r{prev, {}};
    advance_impl(r.next, outcome, s, now, r.events);
    return r;
}

diff_result diff(task_state&& prev, poll_outcome&& outcome, const diff_settings& s,
                 time_point now) {
    diff_result r{std::move(prev), {}};
    advance_impl(r.next, std::move(outcome), s, now, r.events);
    return r;
}

} // namespace taskwatch::task
