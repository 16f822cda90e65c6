#include "taskwatch/sim/model.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace taskwatch::sim {
namespace {

using std::chrono::milliseconds;

// Message table indexed by lifecycle_step::message.
enum message_id : std::uint8_t {
    msg_queuing,
    msg_initializing,
    msg_exporting,
    msg_training,
    msg_inferring,
    msg_writing,
    msg_succeeded,
    msg_failed,
    msg_stopping,
    msg_stopped,
};

struct message_text {
    std::string_view code;
    std::string_view text;
};
constexpr std::array<message_text, 10> messages{{
    {"", "The task is queuing."},
    {"", "Initializing the task."},
    {"ModelArts.4902", "Start to export annotations. Export task id is "}, // + export_task_id
    {"", "Training the auto labeling model."},
    {"", "Running inference on unlabeled samples."},
    {"", "Writing labeling results to samples."},
    {"", "The task succeeded."},
    {"", "The task failed."},
    {"", "Stopping the task."},
    {"", "The task has been stopped."},
}};

struct failure_text {
    std::string_view code;
    std::string_view msg;
};
constexpr std::array<failure_text, 5> failures{{
    {"ModelArts.4355", "Training job failed: the training job exited with code 137."},
    {"ModelArts.4371", "Inference job failed: no inference result is returned."},
    {"ModelArts.4604", "The number of labeled samples is insufficient for auto labeling."},
    {"ModelArts.4611", "Failed to write labeling results to OBS."},
    {"ModelArts.2951", "Internal error of the auto labeling service. Try again later."},
}};
constexpr std::array<failure_text, 2> transients{{
    {"ModelArts.4380", "An inference worker restarted; retrying the batch."},
    {"ModelArts.4903", "Exporting annotations is taking longer than usual."},
}};

std::uint64_t mix(std::uint64_t a, std::uint64_t b) noexcept {
    rng r(a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull));
    r.next();
    return r.next();
}

milliseconds ms(double v) {
    return milliseconds(std::llround(v));
}

std::uint8_t running_message(double progress) {
    if (progress < 10) return msg_exporting;
    if (progress < 60) return msg_training;
    if (progress < 95) return msg_inferring;
    return msg_writing;
}

// Sample counts at a progress: auto-labeled samples split into annotated and unconfirmed,
// both rising with progress and never exceeding the total together.
void set_counts(task_state& st, const sim_task& t) {
    const auto total = st.total_sample_count;
    const auto unlabeled = total - std::min(total, t.initially_annotated);
    const double done =
        std::clamp(st.progress, 0.0, 100.0) / 100.0 * static_cast<double>(unlabeled);
    // Each part floored on its own so that both only rise as progress does.
    st.annotated_sample_count = std::min(total, t.initially_annotated) +
                                static_cast<std::uint64_t>(std::floor(done * t.annotated_share));
    st.unconfirmed_sample_count =
        static_cast<std::uint64_t>(std::floor(done * (1.0 - t.annotated_share)));
}

} // namespace

bool is_terminal(task_status s) noexcept {
    return s == task_status::failed || s == task_status::succeeded || s == task_status::stopped;
}

std::string_view to_string(task_status s) noexcept {
    switch (s) {
    case task_status::queuing:
        return "queuing";
    case task_status::initializing:
        return "initializing";
    case task_status::running:
        return "running";
    case task_status::failed:
        return "failed";
    case task_status::succeeded:
        return "succeeded";
    case task_status::stopping:
        return "stopping";
    case task_status::stopped:
        return "stopped";
    }
    return "unknown";
}

std::optional<task_status> parse_task_status(std::string_view s) noexcept {
    for (int v = -1; v <= 5; ++v) {
        auto st = static_cast<task_status>(v);
        if (s == to_string(st) || s == std::to_string(v)) return st;
    }
    return std::nullopt;
}

std::string_view to_string(task_type t) noexcept {
    switch (t) {
    case task_type::auto_label:
        return "auto-label";
    case task_type::pre_label:
        return "pre-label";
    case task_type::auto_grouping:
        return "auto-grouping";
    }
    return "auto-label";
}

std::optional<task_type> parse_task_type(std::string_view s) noexcept {
    for (auto t : {task_type::auto_label, task_type::pre_label, task_type::auto_grouping})
        if (s == to_string(t)) return t;
    return std::nullopt;
}

std::uint64_t rng::next() noexcept {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double rng::uniform() noexcept {
    return static_cast<double>(next() >> 11) * 0x1.0p-53;
}
double rng::uniform(double lo, double hi) noexcept {
    return lo + (hi - lo) * uniform();
}
std::uint64_t rng::below(std::uint64_t n) noexcept {
    return n == 0 ? 0 : next() % n;
}

std::string rng::id(std::size_t length) {
    static constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string out(length, '\0');
    for (auto& c : out)
        c = alphabet[below(alphabet.size())];
    return out;
}

std::string format_create_time(time_point t) {
    std::time_t tt = sim_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[24];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

void transition_log::record(std::string_view task_id, task_status from, task_status to,
                            time_point at) {
    if (capacity_ == 0) {
        ++next_seq_;
        ++dropped_;
        return;
    }
    if (entries_.size() >= capacity_) {
        entries_.pop_front();
        ++dropped_;
    }
    entries_.push_back({next_seq_++, std::string(task_id), from, to, at});
}

void transition_log::clear() noexcept {
    entries_.clear();
}

world::world(world_options opts, time_point now)
    : opts_(std::move(opts))
    , transitions_(opts_.transition_log_capacity) {
    if (opts_.datasets == 0) opts_.datasets = 1;
    if (opts_.phase.count() <= 0) opts_.phase = milliseconds(1);
    if (opts_.project_ids.empty())
        opts_.project_ids.emplace_back("0123456789abcdef0123456789abcdef");
    rng ids(mix(opts_.seed, 0xDA7A5E7));
    for (std::size_t i = 0; i < opts_.datasets; ++i) {
        datasets_.push_back(ids.id(19));
        by_dataset_[datasets_.back()]; // a dataset exists even with no task
        dataset_project_[datasets_.back()] = opts_.project_ids[i % opts_.project_ids.size()];
    }
    // Spread create times so the initial world has tasks in every phase; a quarter are old.
    const double phase = static_cast<double>(opts_.phase.count());
    const double span = phase * 12.0;
    for (std::size_t i = 0; i < opts_.tasks; ++i) {
        const auto index = next_index_++;
        rng age(mix(opts_.seed, index ^ 0xA6E));
        double age_ms =
            age.uniform() < 0.25 ? age.uniform(3.6e6, 7 * 86.4e6) : age.uniform(0, span * 1.2);
        auto& t = insert(generate(index, task_spec{}, now - ms(age_ms)));
        refresh(t, now);
    }
}

bool world::has_dataset(std::string_view id) const {
    return by_dataset_.find(id) != by_dataset_.end();
}

std::string_view world::project_of(std::string_view dataset_id) const {
    auto it = dataset_project_.find(dataset_id);
    return it == dataset_project_.end() ? std::string_view{} : std::string_view(it->second);
}

sim_task* world::find(std::string_view task_id) {
    auto it = by_id_.find(task_id);
    return it == by_id_.end() ? nullptr : it->second.get();
}

sim_task* world::find(std::string_view dataset_id, std::string_view task_id) {
    auto* t = find(task_id);
    return t && t->dataset_id == dataset_id ? t : nullptr;
}

std::unique_ptr<sim_task> world::generate(std::uint64_t index, const task_spec& spec,
                                          time_point create_time) {
    rng r(mix(opts_.seed, index));
    auto t = std::make_unique<sim_task>();
    t->task_id = r.id(19);
    if (!spec.task_id.empty()) t->task_id = spec.task_id;
    t->dataset_id = datasets_[r.below(datasets_.size())];
    if (!spec.dataset_id.empty()) t->dataset_id = spec.dataset_id;
    const double kind = r.uniform();
    t->type = kind < 0.75  ? task_type::auto_label
              : kind < 0.9 ? task_type::pre_label
                           : task_type::auto_grouping;
    if (spec.type) t->type = *spec.type;
    char name[48];
    std::snprintf(name, sizeof name, "%s-%04llu", std::string(to_string(t->type)).c_str(),
                  static_cast<unsigned long long>(index + 1));
    t->task_name = spec.task_name.empty() ? std::string(name) : spec.task_name;
    t->resource_id = r.id(19);
    t->export_task_id = r.id(19);
    t->create_time = create_time;
    t->export_type = static_cast<int>(r.below(2));
    t->algorithm_type = r.uniform() < 0.7 ? "fast" : "accurate";
    if (t->type == task_type::auto_grouping)
        t->n_clusters = static_cast<std::uint32_t>(2 + r.below(9));

    const double fate = r.uniform();
    t->fate = fate < 0.8 ? task_fate::succeed : fate < 0.92 ? task_fate::fail : task_fate::stop;
    if (spec.fate) t->fate = *spec.fate;
    const auto& f = failures[r.below(failures.size())];
    t->fail_code = f.code;
    t->fail_msg = f.msg;
    if (r.uniform() < 0.1) {
        const auto& tr = transients[r.below(transients.size())];
        t->transient_code = tr.code;
        t->transient_msg = tr.msg;
    }

    const auto total = static_cast<std::uint64_t>(
        std::llround(std::exp(r.uniform(std::log(20.0), std::log(5000.0)))));
    t->state.total_sample_count = total;
    t->initially_annotated =
        std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::llround(
                                       static_cast<double>(total) * r.uniform(0.05, 0.5))));
    t->annotated_share = r.uniform(0.3, 0.8);

    // The plan: queue, initialise, run in uneven steps, then the fate.
    const double phase = static_cast<double>(opts_.phase.count());
    const double queue = phase * r.uniform(0.3, 1.5);
    const double init = phase * r.uniform(0.3, 1.0);
    const double run = phase * r.uniform(3.0, 8.0);
    const auto k = static_cast<std::size_t>(8 + r.below(13));
    std::vector<double> at(k), weight(k);
    for (auto& a : at)
        a = r.uniform();
    std::sort(at.begin(), at.end());
    double weight_sum = 0;
    for (auto& w : weight) {
        w = r.uniform(0.2, 1.0);
        w *= w;
        weight_sum += w;
    }
    auto& steps = t->steps;
    steps.push_back({milliseconds(0), task_status::queuing, 0, msg_queuing});
    steps.push_back({ms(queue), task_status::initializing, 0, msg_initializing});
    steps.push_back({ms(queue + init), task_status::running, 0, msg_exporting});
    double cumulative = 0;
    for (std::size_t i = 0; i + 1 < k; ++i) {
        cumulative += weight[i];
        double p = std::round(cumulative / weight_sum * 1000.0) / 10.0; // one decimal, like the API
        if (p <= steps.back().progress || p >= 100.0) continue;
        steps.push_back(
            {ms(queue + init + run * at[i]), task_status::running, p, running_message(p)});
    }
    const auto end = ms(queue + init + run);
    if (t->fate == task_fate::succeed) {
        steps.push_back({end, task_status::succeeded, 100.0, msg_succeeded});
    } else {
        // Cut the run after a random running step (at least the first one).
        const std::size_t first_running = 2;
        const std::size_t running_steps = steps.size() - first_running;
        const std::size_t keep =
            first_running + 1 + static_cast<std::size_t>(r.below(running_steps));
        const auto cut_progress = steps[keep - 1].progress;
        const auto next_at = keep < steps.size() ? steps[keep].at : end;
        const auto cut_at = steps[keep - 1].at + (next_at - steps[keep - 1].at) / 2;
        steps.resize(keep);
        if (t->fate == task_fate::fail) {
            steps.push_back({cut_at, task_status::failed, cut_progress, msg_failed});
        } else {
            steps.push_back({cut_at, task_status::stopping, cut_progress, msg_stopping});
            steps.push_back({cut_at + ms(phase * r.uniform(0.2, 1.0)), task_status::stopped,
                             cut_progress, msg_stopped});
        }
    }
    t->state.status = task_status::queuing;
    t->state.message = messages[msg_queuing].text;
    set_counts(t->state, *t);
    t->next_change = create_time; // first refresh computes the state
    return t;
}

bool world::refresh(sim_task& t, time_point now) {
    if (t.frozen || now < t.next_change || t.steps.empty()) return false;
    const auto since = [&](std::size_t i) { return t.create_time + t.steps[i].at; };
    auto shown = t.state.status;
    while (t.step + 1 < t.steps.size() && since(t.step + 1) <= now) {
        ++t.step;
        if (const auto to = t.steps[t.step].status; to != shown) {
            transitions_.record(t.task_id, shown, to, since(t.step));
            shown = to;
        }
    }
    if (const auto to = t.steps[t.step].status; to != shown) // unfrozen after a patch
        transitions_.record(t.task_id, shown, to, now);

    const auto& s = t.steps[t.step];
    task_state st;
    st.status = s.status;
    st.progress = s.progress;
    const auto& m = messages[s.message];
    st.message = m.text;
    if (s.message == msg_exporting) st.message += t.export_task_id;
    st.code = m.code;
    if (s.status == task_status::failed) {
        st.code = t.fail_code;
        st.error_code = t.fail_code;
        st.error_msg = t.fail_msg;
    } else if (s.status == task_status::running && s.message == msg_inferring &&
               !t.transient_code.empty()) {
        st.error_code = t.transient_code; // a 200 can carry error fields while still running
        st.error_msg = t.transient_msg;
    }
    st.total_sample_count = t.state.total_sample_count;
    set_counts(st, t);

    // elapsed_time counts from leaving the queue and stops at a terminal state.
    const auto run_start = t.steps.size() > 1 ? since(1) : t.create_time;
    auto until = is_terminal(s.status) ? since(t.step) : now;
    if (s.status != task_status::queuing && until > run_start)
        st.elapsed_time =
            std::chrono::duration_cast<std::chrono::seconds>(until - run_start).count();

    // Next moment anything can change: the next step, or the next elapsed second.
    time_point next = time_point::max();
    if (t.step + 1 < t.steps.size()) next = since(t.step + 1);
    if (s.status != task_status::queuing && !is_terminal(s.status))
        next = std::min(next, run_start + std::chrono::seconds(st.elapsed_time + 1));
    t.next_change = next;

    if (st == t.state) return false;
    t.state = std::move(st);
    ++t.version;
    return true;
}

sim_task& world::insert(std::unique_ptr<sim_task> t) {
    auto& list = by_dataset_[t->dataset_id];
    auto newer = [](const sim_task* a, const sim_task* b) {
        if (a->create_time != b->create_time) return a->create_time > b->create_time;
        return a->task_id < b->task_id;
    };
    auto* raw = t.get();
    list.insert(std::upper_bound(list.begin(), list.end(), raw, newer), raw);
    by_id_.emplace(std::string_view(raw->task_id), std::move(t));
    return *raw;
}

sim_task& world::add(const task_spec& spec, time_point now) {
    if (!spec.task_id.empty() && find(spec.task_id))
        throw std::invalid_argument("task id '" + spec.task_id + "' is already in use");
    if (!spec.dataset_id.empty() && !has_dataset(spec.dataset_id)) {
        datasets_.push_back(spec.dataset_id);
        by_dataset_[spec.dataset_id];
        dataset_project_[spec.dataset_id] =
            spec.project_id.empty() ? opts_.project_ids.front() : spec.project_id;
    }
    // The plan runs from this exact instant; create_time shows it to the second.
    auto t = generate(next_index_++, spec, now);
    // Ids drawn from the seed may collide with one added by hand: draw again.
    while (find(t->task_id))
        t->task_id = rng(mix(opts_.seed, next_index_++)).id(19);
    auto& ref = insert(std::move(t));
    refresh(ref, now);
    return ref;
}

bool world::remove(std::string_view dataset_id, std::string_view task_id) {
    auto* t = find(dataset_id, task_id);
    if (!t) return false;
    auto& list = by_dataset_[t->dataset_id];
    list.erase(std::remove(list.begin(), list.end(), t), list.end());
    by_id_.erase(
        by_id_.find(std::string_view(t->task_id))); // by iterator: the key lives in the task
    return true;
}

void world::apply(sim_task& t, const task_patch& p, time_point now) {
    auto& st = t.state;
    if (p.status && *p.status != st.status)
        transitions_.record(t.task_id, st.status, *p.status, now);
    if (p.status) st.status = *p.status;
    if (p.progress) st.progress = *p.progress;
    if (p.progress || p.hide_progress) st.progress_hidden = p.hide_progress;
    if (p.code) st.code = *p.code;
    if (p.message) st.message = *p.message;
    if (p.error_code) st.error_code = *p.error_code;
    if (p.error_msg) st.error_msg = *p.error_msg;
    if (p.elapsed_time) st.elapsed_time = *p.elapsed_time;
    if (p.total_sample_count) st.total_sample_count = *p.total_sample_count;
    if (p.annotated_sample_count) st.annotated_sample_count = *p.annotated_sample_count;
    if (p.unconfirmed_sample_count) st.unconfirmed_sample_count = *p.unconfirmed_sample_count;
    if (p.task_name) t.task_name = *p.task_name;
    t.frozen = p.frozen.value_or(true);
    t.next_change = time_point::min(); // unfrozen, the next refresh goes back to the plan
    ++t.version;
}

std::vector<sim_task*> world::list(std::string_view dataset_id, const std::vector<task_type>& types,
                                   std::string_view name_contains) const {
    std::vector<sim_task*> out;
    auto it = by_dataset_.find(dataset_id);
    if (it == by_dataset_.end()) return out;
    for (auto* t : it->second) {
        if (!types.empty() && std::find(types.begin(), types.end(), t->type) == types.end())
            continue;
        if (!name_contains.empty() && t->task_name.find(name_contains) == std::string::npos)
            continue;
        out.push_back(t);
    }
    return out;
}

std::vector<sim_task*> world::all() const {
    std::vector<sim_task*> out;
    out.reserve(by_id_.size());
    for (const auto& [id, list] : by_dataset_)
        out.insert(out.end(), list.begin(), list.end());
    return out;
}

} // namespace taskwatch::sim
