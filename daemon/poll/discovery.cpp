// Discovery: one loop per target without task_ids, listing its dataset's tasks and tracking
// the new ones, paced like every other request to its endpoint.
#include "engine.hpp"

#include "taskwatch/log/log.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <optional>
#include <set>
#include <unordered_set>

namespace taskwatch::poll {
namespace asio = boost::asio;
using namespace std::chrono_literals;

const config::target* engine::find_target(const std::string& project_id,
                                          const std::string& dataset_id) const {
    for (const auto& t : settings_->targets)
        if (t.dataset_id == dataset_id && config::project_id_of(*settings_, t) == project_id)
            return &t;
    return nullptr;
}

void engine::start_discovery(const std::string& target_id) {
    if (!discovering_.insert(target_id).second) return;
    ++running_;
    asio::co_spawn(ex_, async_discovery_loop(target_id), [this, target_id](std::exception_ptr e) {
        --running_;
        discovering_.erase(target_id);
        stats_.discovery.erase(target_of(target_id));
        log::exception_ended(e, "discovery");
    });
}

asio::awaitable<void> engine::async_discovery_loop(std::string target_id) {
    auto timer_ptr = loop_timers_.emplace_back(std::make_shared<asio::steady_timer>(ex_));
    auto& timer = *timer_ptr;
    const auto target = target_of(target_id); // no structured binding: clang 14 lambdas
    const std::string& project = target.first;
    const std::string& dataset = target.second;
    const task::task_key first_key{project, dataset, ""}; // sorts before the target's tasks
    bool first = true;
    while (!stopping_) {
        // Looked up afresh each round: a reload may have changed or removed the target.
        const auto* target_ptr = find_target(project, dataset);
        if (!target_ptr || target_ptr->task_ids) break;
        auto api = api_for(*target_ptr); // held until the request ends
        auto* ep = &endpoint_for(*api);
        std::vector<std::string> seen; // every id listed this round, all types
        bool complete = true;
        std::string failure; // why the round is not complete; "" while it is
        // What this target knows already, by id: its tasks and tombstones are adjacent and in
        // id order in the ordered maps, so one sorted vector of views, gathered once per round
        // and again only when either map lost an entry meanwhile (a view would dangle). A
        // listed id not in it is looked up whole before it counts as new.
        std::vector<std::string_view> known;
        std::uint64_t known_as_of = ~std::uint64_t{0};
        const auto refresh_known = [&] {
            if (known_as_of == keys_moved_) return;
            known.clear();
            for (auto it = tasks_.lower_bound(first_key);
                 it != tasks_.end() && it->first.key->project_id == project &&
                 it->first.key->dataset_id == dataset;
                 ++it)
                known.push_back(it->first.key->task_id);
            const auto tasks_end = static_cast<std::ptrdiff_t>(known.size());
            for (auto it = forgotten_.lower_bound({project, dataset, ""});
                 it != forgotten_.end() && it->project_id == project && it->dataset_id == dataset;
                 ++it)
                known.push_back(it->task_id);
            std::inplace_merge(known.begin(), known.begin() + tasks_end, known.end());
            known_as_of = keys_moved_;
        };
        for (auto type : modelarts::task_types) {
            // Wait out the endpoint's pauses and its credentials' probe, then for a slot.
            std::optional<credential_gate::ticket> ticket;
            while (!ticket) {
                // A reload while we waited may have changed the target, its endpoint or the
                // credentials: the request goes with the current ones.
                target_ptr = find_target(project, dataset);
                if (!target_ptr || target_ptr->task_ids) co_return;
                api = api_for(*target_ptr);
                ep = &endpoint_for(*api);
                auto now = clock::now();
                if (const auto when = not_before(*ep, now); when > now) {
                    ep->waiting.push_back(&timer); // woken by the probe's answer
                    co_await async_sleep_until(timer, std::min(when, now + 1h));
                    std::erase(ep->waiting, &timer);
                    if (stopping_) co_return;
                    continue;
                }
                if (auto slot = bucket_.reserve(now); slot > now)
                    co_await async_sleep_until(timer, slot);
                if (stopping_) co_return;
                if (ep->throttle.paused_until() > clock::now()) continue;
                ticket = ep->credentials.try_send(clock::now());
                if (ticket &&
                    (find_target(project, dataset) != target_ptr || api_for(*target_ptr) != api)) {
                    release(*ep, *ticket); // reloaded during the slot's wait: look again
                    ticket.reset();
                }
            }
            auto* sent_to = ep;
            auto res = co_await api->async_list_task_ids(dataset, std::string(type));
            report(*sent_to, *ticket, res ? nullptr : &res.error());
            ++stats_.listings;
            if (!res) {
                complete = false;
                failure = res.error().to_string();
                ++stats_.listing_failures_by_reason[std::string(
                    modelarts::to_string(res.error().kind))];
                if (res.error().kind == modelarts::error_kind::throttled)
                    ep->throttle.on_throttled(clock::now(), res.error().retry_after);
                log::warn(
                    "listing tasks failed",
                    {{"dataset", dataset}, {"type", type}, {"error", res.error().to_string()}});
                break;
            }
            // A reload during the request may have removed or changed the target.
            target_ptr = find_target(project, dataset);
            if (!target_ptr || target_ptr->task_ids) co_return;
            api = api_for(*target_ptr);
            ep = &endpoint_for(*api);
            const auto due = clock::now();
            refresh_known();
            std::vector<std::string> fresh;
            for (auto& id : *res) {
                if (!std::binary_search(known.begin(), known.end(), std::string_view(id)))
                    fresh.push_back(id);
                seen.push_back(std::move(id));
            }
            // Every shard lists; each tracks only its own share of what is new.
            std::erase_if(fresh, [&](const std::string& id) {
                return !owns({project, dataset, id});
            });
            for (auto& id : fresh) {
                task::task_key key{project, dataset, std::move(id)};
                // Tracked since the round began (another type's page, a reload): not new.
                if (tasks_.count(key) || forgotten_.count(key)) continue;
                {
                    auto& tt = track(key, *target_ptr, false);
                    if (first) { // part of the first round: /-/ready waits for its poll
                        tt.first_poll_owed = true;
                        ++first_round_left_;
                    }
                    schedule(tt, due);
                }
            }
        }
        stats_.discovery[target] = std::move(failure); // "" when complete
        if (complete) {
            std::sort(seen.begin(), seen.end());
            const auto listed = [&](std::string_view id) {
                return std::binary_search(seen.begin(), seen.end(), id);
            };
            // The target's tasks are adjacent in the ordered map.
            for (auto it = tasks_.lower_bound(first_key);
                 it != tasks_.end() && it->first.key->project_id == project &&
                 it->first.key->dataset_id == dataset;
                 ++it)
                if (!it->second.configured) it->second.listed = listed(it->first.key->task_id);
            // A tombstone the list no longer shows has done its job.
            for (auto it = forgotten_.lower_bound({project, dataset, ""});
                 it != forgotten_.end() && it->project_id == project &&
                 it->dataset_id == dataset;) {
                if (!listed(it->task_id)) {
                    try {
                        store_.forget(*it);
                    } catch (const std::exception& e) {
                        log::warn("cannot delete a forgotten task's state", {{"error", e.what()}});
                    }
                    it = forgotten_.erase(it);
                    ++keys_moved_;
                } else {
                    ++it;
                }
            }
        }
        if (first) {
            first = false;
            if (first_round_left_ > 0) --first_round_left_;
        }
        // The round's lists go before the sleep, not after it: kept through it they are a
        // string and a view per task of the dataset (about 80 bytes each) held all the time.
        seen = {};
        known = {};
        co_await async_sleep_until(
            timer, clock::now() + jittered(settings_->poll.interval, settings_->poll.jitter, rng_));
    }
}

} // namespace taskwatch::poll
