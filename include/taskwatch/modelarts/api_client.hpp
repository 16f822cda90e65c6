// The two ModelArts task APIs over the HTTPS client, authenticated, with failures classified.
#pragma once

#include "taskwatch/auth/authorizer.hpp"
#include "taskwatch/detail/expected.hpp"
#include "taskwatch/http/client.hpp"
#include "taskwatch/modelarts/api_error.hpp"
#include "taskwatch/modelarts/model.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace taskwatch::modelarts {

/// Task kinds the list API knows; omitted `type` lists auto-label and pre-label only.
inline constexpr std::string_view task_types[] = {"auto-label", "pre-label", "auto-grouping"};

/// `/v2/{project}/datasets/{dataset}/tasks/{task}`, each segment percent-encoded.
std::string task_path(std::string_view project_id, std::string_view dataset_id,
                      std::string_view task_id);
/// `/v2/{project}/datasets/{dataset}/tasks?limit=..&offset=..[&type=..]`, query in canonical order.
std::string list_tasks_target(std::string_view project_id, std::string_view dataset_id,
                              std::optional<std::string_view> type, int limit, int offset);

/// The task in the answer of async_fetch_task(), or why there is none (the request's error, or
/// a body that is not a task: malformed). An answer whose `task_id` is not `task_id`, the task
/// asked for, is malformed too: it is about another task (a confused proxy or cache), and
/// taking it would put that task's state under this one's name.
expected<task, api_error> read_task(const expected<http::response, api_error>& answer,
                                    std::string_view task_id);

/// One ModelArts account in one region. Not thread-safe: lives on the event loop.
class api_client {
public:
    api_client(http::client& client, auth::authorizer& auth, http::endpoint ep,
               std::string project_id);

    /// GET one task (the seed API). Every failure is an api_error, never an exception.
    boost::asio::awaitable<expected<task, api_error>> async_get_task(std::string dataset_id,
                                                                     std::string task_id);
    /// The same GET, its answer unparsed: for read_task(). The watcher's hot path; a coroutine
    /// returning a parsed task has a frame of several KiB, allocated for every request. The ids
    /// are read at the call (into the request's target), not kept.
    boost::asio::awaitable<expected<http::response, api_error>>
    async_fetch_task(std::string_view dataset_id, std::string_view task_id);

    /// Every task of a dataset of one `type` (nullopt: the API's default kinds), paging
    /// defensively: limit=100, stop at total_count or a short page, de-duplicate by task_id,
    /// and never more than `max_pages` pages.
    boost::asio::awaitable<expected<std::vector<task>, api_error>>
    async_list_tasks(std::string dataset_id, std::optional<std::string> type, int max_pages = 1000);

    /// The same listing, reading only the task ids (what discovery needs; much cheaper).
    boost::asio::awaitable<expected<std::vector<std::string>, api_error>>
    async_list_task_ids(std::string dataset_id, std::optional<std::string> type,
                        int max_pages = 1000);

    const http::endpoint& endpoint() const noexcept { return ep_; }
    const std::string& project_id() const noexcept { return project_id_; }

private:
    /// Sends with authentication; on a 401 for a stale IAM token, refreshes once and retries.
    boost::asio::awaitable<expected<http::response, api_error>> async_call(std::string target);
    /// The paging of the list API, for any reading of a page (`parse`: body -> items and
    /// page facts; `id_of`: an item's task id, for de-duplication).
    template <class Item, class Parse, class IdOf>
    boost::asio::awaitable<expected<std::vector<Item>, api_error>>
    async_page_through(std::string dataset_id, std::optional<std::string> type, int max_pages,
                       Parse parse, IdOf id_of);

    http::client& client_;
    auth::authorizer& auth_;
    http::endpoint ep_;
    std::string project_id_;
};

} // namespace taskwatch::modelarts
