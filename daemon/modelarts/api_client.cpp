#include "taskwatch/modelarts/api_client.hpp"

#include "taskwatch/auth/signer.hpp"
#include "taskwatch/detail/percent.hpp"

#include <set>

namespace taskwatch::modelarts {
namespace asio = boost::asio;

std::string task_path(std::string_view project_id, std::string_view dataset_id,
                      std::string_view task_id) {
    std::string out;
    out.reserve(24 + project_id.size() + dataset_id.size() + task_id.size());
    out += "/v2/";
    detail::append_percent_encoded(out, project_id);
    out += "/datasets/";
    detail::append_percent_encoded(out, dataset_id);
    out += "/tasks/";
    detail::append_percent_encoded(out, task_id);
    return out;
}

std::string list_tasks_target(std::string_view project_id, std::string_view dataset_id,
                              std::optional<std::string_view> type, int limit, int offset) {
    std::string out = "/v2/";
    out += detail::percent_encode(project_id);
    out += "/datasets/";
    out += detail::percent_encode(dataset_id);
    out += "/tasks?";
    auth::query_params q{{"limit", std::to_string(limit)}, {"offset", std::to_string(offset)}};
    if (type) q.emplace_back("type", std::string(*type));
    // The gateway signs the canonical (sorted, encoded) query: send exactly that.
    out += auth::canonical_query_string(q);
    return out;
}

api_client::api_client(http::client& client, auth::authorizer& auth, http::endpoint ep,
                       std::string project_id)
    : client_(client)
    , auth_(auth)
    , ep_(std::move(ep))
    , project_id_(std::move(project_id)) {}

asio::awaitable<expected<http::response, api_error>> api_client::async_call(std::string target) {
    for (int attempt = 0;; ++attempt) {
        http::request req;
        req.target = target;
        req.headers.reserve(8);
        auto ticket = co_await auth_.async_authorize(req, ep_, project_id_);
        if (!ticket) co_return unexpected(from_auth_error(ticket.error()));
        auto res = co_await client_.async_send(ep_, std::move(req));
        if (!res) co_return unexpected(from_transport(res.error()));
        if (res->status >= 200 && res->status < 300) co_return std::move(*res);
        // An IAM token that expired or was revoked: one refresh, one retry. AK/SK rejections
        // are never retried here (the gateway locks a key after 5 failures). The error is
        // classified twice rather than kept in a variable: one more named local would push
        // this frame, allocated for every request, past the sizes that are recycled.
        if (attempt == 0 && is_token_rejection(classify_response(*res)) &&
            auth_.invalidate(*ticket))
            continue;
        co_return unexpected(classify_response(*res));
    }
}

namespace {

// A value from the answer, quoted for a one-line message: printable and at most 80 characters.
std::string quoted_for_message(std::string_view s) {
    constexpr std::size_t max_chars = 80;
    std::string out = "\"";
    for (char ch : s.substr(0, max_chars)) {
        const auto c = static_cast<unsigned char>(ch);
        out.push_back(c < 0x20 || c == 0x7f || ch == '"' ? '?' : ch);
    }
    if (s.size() > max_chars) out += "...";
    out += '"';
    return out;
}

} // namespace

expected<task, api_error> read_task(const expected<http::response, api_error>& answer,
                                    std::string_view task_id) {
    if (!answer) return unexpected(answer.error());
    const auto& res = *answer;
    auto parsed = parse_task(std::string_view(res.body));
    if (parsed && (!parsed->task_id || *parsed->task_id == task_id)) return std::move(*parsed);
    api_error e;
    e.kind = error_kind::malformed;
    e.http_status = res.status;
    if (parsed)
        e.detail = "task_id: expected " + quoted_for_message(task_id) +
                   " (the task asked for), got " + quoted_for_message(*parsed->task_id);
    else
        e.detail = parsed.error().to_string();
    if (auto it = res.headers.find("X-Request-Id"); it != res.headers.end())
        e.request_id = std::string(it->value());
    return unexpected(std::move(e));
}

asio::awaitable<expected<http::response, api_error>>
api_client::async_fetch_task(std::string_view dataset_id, std::string_view task_id) {
    // Not a coroutine: async_call's frame is the only one.
    return async_call(task_path(project_id_, dataset_id, task_id));
}

asio::awaitable<expected<task, api_error>> api_client::async_get_task(std::string dataset_id,
                                                                      std::string task_id) {
    co_return read_task(co_await async_fetch_task(dataset_id, task_id), task_id);
}

template <class Item, class Parse, class IdOf>
asio::awaitable<expected<std::vector<Item>, api_error>>
api_client::async_page_through(std::string dataset_id, std::optional<std::string> type,
                               int max_pages, Parse parse, IdOf id_of) {
    constexpr int limit = 100;
    std::vector<Item> out;
    std::set<std::string> seen;
    // API-NOTES: `offset` may be an item offset or a page number. Start as items; when the
    // second request brings nothing new although more should exist, count pages instead
    // (0- or 1-based: a repeated first page at offset 1 means 1-based).
    enum class paging { unknown, items, pages } mode = paging::unknown;
    int offset = 0;
    for (int page = 0; page < max_pages; ++page) {
        std::optional<std::string_view> t;
        if (type) t = *type;
        auto res =
            co_await async_call(list_tasks_target(project_id_, dataset_id, t, limit, offset));
        if (!res) co_return unexpected(std::move(res.error()));
        auto parsed = parse(std::string_view(res->body));
        if (!parsed) {
            api_error e;
            e.kind = error_kind::malformed;
            e.http_status = res->status;
            e.detail = "task list: " + parsed.error().to_string();
            co_return unexpected(std::move(e));
        }
        std::size_t fresh = 0;
        for (auto& item : parsed->first) {
            const std::string* id = id_of(item);
            if (!id || id->empty()) continue;
            if (!seen.insert(*id).second) continue;
            ++fresh;
            out.push_back(std::move(item));
        }
        const auto got = parsed->second.items;
        const auto total_count = parsed->second.total_count;
        const bool short_page = got < static_cast<std::size_t>(limit);
        const bool total_reached =
            total_count && out.size() >= static_cast<std::size_t>(*total_count);
        if (total_reached) break;
        if (page == 0) {
            if (short_page) break;
            offset = limit;
            continue;
        }
        if (mode == paging::unknown) {
            if (fresh > 0) {
                mode = paging::items;
            } else {
                mode = paging::pages;
                offset = 1;
                continue;
            }
        } else if (mode == paging::pages && fresh == 0 && offset == 1) {
            offset = 2;
            continue;
        }
        if (short_page || fresh == 0) break;
        offset += mode == paging::items ? limit : 1;
    }
    co_return out;
}

namespace {
struct page_info {
    std::size_t items = 0;
    std::optional<std::int64_t> total_count;
};
} // namespace

asio::awaitable<expected<std::vector<task>, api_error>>
api_client::async_list_tasks(std::string dataset_id, std::optional<std::string> type,
                             int max_pages) {
    using page = std::pair<std::vector<task>, page_info>;
    co_return co_await async_page_through<task>(
        std::move(dataset_id), std::move(type), max_pages,
        [](std::string_view body) -> expected<page, parse_error> {
            auto l = parse_task_list(body);
            if (!l) return unexpected(std::move(l.error()));
            page_info info{l->tasks.size(), l->total_count};
            return page{std::move(l->tasks), info};
        },
        [](const task& t) -> const std::string* { return t.task_id ? &*t.task_id : nullptr; });
}

asio::awaitable<expected<std::vector<std::string>, api_error>>
api_client::async_list_task_ids(std::string dataset_id, std::optional<std::string> type,
                                int max_pages) {
    using page = std::pair<std::vector<std::string>, page_info>;
    co_return co_await async_page_through<std::string>(
        std::move(dataset_id), std::move(type), max_pages,
        [](std::string_view body) -> expected<page, parse_error> {
            auto l = parse_task_ids(body);
            if (!l) return unexpected(std::move(l.error()));
            page_info info{l->items, l->total_count};
            return page{std::move(l->task_ids), info};
        },
        [](const std::string& id) -> const std::string* { return &id; });
}

} // namespace taskwatch::modelarts
