// Bounded buffer of uncommitted task states and events (see write_buffer.hpp).
#include "taskwatch/state/write_buffer.hpp"

#include <iterator>
#include <utility>

namespace taskwatch::state {
namespace {

/// Empties `v`, and gives its storage back when what it held filled under a quarter of it: a
/// burst (the first round writes every task's state) does not stay allocated for good, while a
/// steady load keeps the storage it uses.
template <class T> void clear_and_fit(std::vector<T>& v) noexcept {
    if (v.size() < v.capacity() / 4)
        std::vector<T>().swap(v);
    else
        v.clear();
}

} // namespace

void write_buffer::add(change c) {
    if (c.point && points_.size() < max_events_) points_.push_back({c.next.key, *c.point});
    if (!c.answer.empty() && c.next.last_poll) {
        keyed_answer a{c.next.key, *c.next.last_poll, std::move(c.answer)};
        auto [at, fresh] = answer_index_.try_emplace(a.key, answers_.size());
        if (fresh)
            answers_.push_back(std::move(a));
        else
            answers_[at->second] = std::move(a); // newest wins
    }
    auto [it, inserted] = state_index_.try_emplace(c.next.key, states_.size());
    if (inserted)
        states_.push_back(std::move(c.next));
    else
        states_[it->second] = std::move(c.next); // newest wins
    events_.insert(events_.end(), std::make_move_iterator(c.events.begin()),
                   std::make_move_iterator(c.events.end()));
}

void write_buffer::commit_to(store& s, const event_router& route) {
    if (empty()) return;
    s.commit(states_, events_, route, points_, answers_);
    clear();
}

void write_buffer::clear() noexcept {
    clear_and_fit(states_);
    state_index_.clear();
    clear_and_fit(events_);
    clear_and_fit(points_);
    clear_and_fit(answers_);
    answer_index_.clear();
}

std::size_t write_buffer::reserved() const noexcept {
    return states_.capacity() + events_.capacity() + points_.capacity() + answers_.capacity();
}

} // namespace taskwatch::state
