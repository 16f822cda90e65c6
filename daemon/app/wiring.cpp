#include "taskwatch/app/wiring.hpp"

namespace taskwatch::app {

http::client_options client_options_from(const config::settings& s) {
    http::client_options o;
    o.max_connections = s.modelarts.max_connections;
    o.timeout = s.modelarts.timeout;
    o.ca_file = s.modelarts.ca_file;
    o.proxy = s.modelarts.proxy;
    o.user_agent = "taskwatch/" TASKWATCH_VERSION;
    // What the ModelArts and IAM readers look at (api_client, api_error, the token authorizer).
    o.response_headers = {"X-Request-Id", "Location", "Retry-After", "X-Subject-Token"};
    return o;
}

std::unique_ptr<auth::authorizer> make_authorizer(const config::settings& s, http::client& client) {
    if (const auto* ak = std::get_if<auth::aksk_credentials>(&s.modelarts.auth.credentials))
        return auth::make_aksk_authorizer(*ak);
    return auth::make_token_authorizer(
        client, std::get<auth::token_credentials>(s.modelarts.auth.credentials));
}

std::unique_ptr<modelarts::api_client> make_api_client(const config::settings& s,
                                                       const config::target* t,
                                                       http::client& client,
                                                       auth::authorizer& auth) {
    const auto& ep = t ? config::endpoint_of(s, *t) : s.modelarts.endpoint;
    const auto& project = t ? config::project_id_of(s, *t) : s.modelarts.project_id;
    return std::make_unique<modelarts::api_client>(client, auth, ep, project);
}

} // namespace taskwatch::app
